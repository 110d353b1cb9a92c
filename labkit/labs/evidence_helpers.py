"""What the chapters' checks share, written once: whether a step is known not to be done (the
order rule's test) and how a time reads in the evidence.

Each chapter's evidence.py keeps what differs between them: its messages' parameters, its
instance's disappearance (each chapter's own instance, message and hint), and its “do X first”
(the “container snapshots” chapter names the first step not done up to the one asked, the
“snapshot server” chapter the one asked).
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..grading.engine import Context, Status


def not_done(ctx: Context, step_id: str) -> bool:
    """Known not to be done: its check failed.  A step that is only *not verified* may well
    be done, and an order rule must never turn that doubt into a failure of a later step."""
    result = ctx.earlier.get(step_id)
    return result is not None and result.status is Status.FAILED


def hms(value: datetime | None, fine: bool = False) -> str:
    """A time as evidence shows it: in UTC, to the second (to the microsecond when `fine`), or
    “?” when unknown."""
    # Incus answers in its own offset; evidence always reads in UTC.
    return value.astimezone(timezone.utc).strftime("%H:%M:%S.%f" if fine else "%H:%M:%S") if value else "?"
