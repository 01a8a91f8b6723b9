"""``python -m dflow_argo FILE.py [--json]``: print the Argo manifest of a workflow script, offline."""

from .render import main

raise SystemExit(main())
