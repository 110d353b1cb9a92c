from __future__ import annotations

import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Started as a background job of a non-interactive shell (`make test &`, `nohup … &`), this process
# ignores SIGINT, and so would every command the tests start: the tests that stop `labkit watch` or
# `make lab` with Ctrl+C's signal would then wait for ever (docs/incus-facts.md, fourth round).  A
# handler (unlike SIG_IGN) is not inherited across exec, so the commands get SIGINT's default again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
