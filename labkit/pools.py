"""Thread pools made on first use (never at import) and kept for the process, one per name;
and `concurrently`, a few calls at once without a pool.

The check path, the class views and the chapters' class-wide looks each need a few; one place
makes them, so a pool is never made twice by two threads at once.  `concurrently` serves the
one-learner check, whose few requests do not pay for importing concurrent.futures (and logging
with it) at every `labkit check`."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

_POOLS: dict[str, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def named_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The pool called `name` (its threads are `labkit-NAME_…`), made with `workers` the first time."""
    from concurrent.futures import ThreadPoolExecutor

    with _LOCK:
        if name not in _POOLS:
            _POOLS[name] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"labkit-{name}")
        return _POOLS[name]


class Outcome:
    """What a call returned or raised, given back by `result()` as a Future's would be."""

    def __init__(self) -> None:
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self, call: Callable[[], Any]) -> None:
        try:
            self._value = call()
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


def concurrently(*calls: Callable[[], Any]) -> list[Outcome]:
    """Run the calls at once (the first in this thread, the others on threads of their own) and
    return their outcomes, in order, once all have ended."""
    outcomes = [Outcome() for _ in calls]
    threads = [threading.Thread(target=outcome.run, args=(call,), name="labkit-concurrently", daemon=True)
               for outcome, call in zip(outcomes[1:], calls[1:])]
    for thread in threads:
        thread.start()
    if calls:
        outcomes[0].run(calls[0])
    for thread in threads:
        thread.join()
    return outcomes
