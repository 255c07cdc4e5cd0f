"""``python -m mfa_amr``: the ``mfa-amr`` command."""

from __future__ import annotations

from mfa_amr.cli import main

raise SystemExit(main())
