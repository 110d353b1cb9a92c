"""Where labkit keeps a user's files on this machine: one answer for every module."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/labkit` (else `~/.local/state/labkit`): journals, recorders, classes, logs.

    Read when called, never at import: tests and `labkit setup` run with their own XDG_STATE_HOME."""
    env = os.environ if environ is None else environ
    return Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "labkit"
