"""Test helpers for plugin authors: conformance suites that every implementation runs."""
