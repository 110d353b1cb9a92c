"""`concurrently`: a few calls at once, their outcomes in order, errors handed to whoever asks."""
from __future__ import annotations

import threading
import time

import pytest

from labkit.pools import concurrently


def test_the_calls_run_at_once_and_come_back_in_order() -> None:
    started = threading.Barrier(3, timeout=30)  # only passes if all three run at the same time

    def call(n: int):
        return lambda: (started.wait(), n)[1]

    assert [o.result() for o in concurrently(call(1), call(2), call(3))] == [1, 2, 3]


def test_an_error_is_raised_by_its_own_result_only_after_every_call_ended() -> None:
    ended = []

    def slow() -> str:
        time.sleep(0.2)
        ended.append("slow")
        return "done"

    def boom() -> None:
        raise LookupError("gone")

    first, second = concurrently(boom, slow)
    assert ended == ["slow"] and second.result() == "done"
    with pytest.raises(LookupError, match="gone"):
        first.result()
