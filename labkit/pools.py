"""Thread pools made on first use (never at import) and kept for the process, one per name.

The check path, the class views and the chapters' class-wide looks each need a few; one place
makes them, so a pool is never made twice by two threads at once."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_POOLS: dict[str, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def named_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The pool called `name` (its threads are `labkit-NAME_…`), made with `workers` the first time."""
    with _LOCK:
        if name not in _POOLS:
            _POOLS[name] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"labkit-{name}")
        return _POOLS[name]
