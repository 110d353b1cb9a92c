"""A JSON file replaced in one step, never seen half-written: the journals' and the recorder's."""
from __future__ import annotations

import json
import os
import time
from contextlib import suppress
from pathlib import Path
from typing import Any


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = new_private_file(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            # dumps() without indent is the only path to the C encoder (dump() never takes it),
            # and the journal is rewritten at every check.
            out.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def new_private_file(path: Path) -> tuple[int, str]:
    """A new file beside `path`, only its owner may read: what tempfile.mkstemp does, without
    importing tempfile (and with it shutil, random and seven C extensions) at every check."""
    while True:
        tmp = str(path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}"))
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600), tmp
        except FileExistsError:
            continue
