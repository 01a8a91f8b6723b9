"""Refuse every network connection that leaves this machine, and record the attempt.

The template tests put this folder on ``PYTHONPATH`` of the processes they start
(cookiecutter, a generated package's tests, its example workflow), with
``NO_NETWORK_LOG`` naming a file. Every attempt to reach a host other than the
loopback one is appended to that file and fails with ``OSError``; the tests assert
the file stays empty, so an attempt that the code under test catches is still seen.
Unix sockets and loopback connections (the local backend's own) are allowed.
"""

import ipaddress
import os
import socket

_LOG = os.environ.get("NO_NETWORK_LOG")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_local(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> None:
    with open(_LOG, "a") as f:
        f.write(f"pid {os.getpid()}: {what}\n")
    raise OSError(f"network access refused by the test (no-network guard): {what}")


def _guard(method_name: str) -> None:
    original = getattr(socket.socket, method_name)

    def guarded(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse(f"socket.{method_name} to {address!r}")
        return original(self, address, *args)

    setattr(socket.socket, method_name, guarded)


def _guard_resolver() -> None:
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_local(host.decode() if isinstance(host, bytes) else host):
            _refuse(f"name lookup of {host!r}")
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


if _LOG:
    for _name in ("connect", "connect_ex"):
        _guard(_name)
    _guard_resolver()
