"""A polite `kill` ends a command the way Ctrl+C does.

Commands that wait (`labkit watch`, `labkit lab`, `labkit class status --watch`) clean up in
their `except KeyboardInterrupt` and `finally` blocks; SIGTERM (and SIGHUP when the terminal
goes) would otherwise end the process without running them."""
from __future__ import annotations

import signal


def interrupt_on(*signums: signal.Signals) -> None:
    """From now on, each of these signals raises KeyboardInterrupt in the main thread."""
    for signum in signums:
        signal.signal(signum, _interrupt)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt
