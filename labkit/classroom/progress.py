"""Where each learner of a class stands: not started yet, or on which step, since when, stuck or not.

“Not started” is read from what a learner cannot forge into progress: the chapter's own
`untouched` look at their instances (against the identity the class holds in their project),
no lifecycle event of the attempt, no step ever seen passing that does not pass now.  Once a
class view has seen a learner start, the instructor's journal keeps the time (a mark): the
learner stays started for the rest of the attempt, and their time on a step counts from
there at the earliest.  Pure: the caller reads and writes the journal.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..grading.engine import Chapter, History, Result, Status
from ..grading.journal import Attempt

STARTED = "started"  # the journal's mark: when a class view first saw the learner start
NOT_STARTED = "○"  # its own symbol: neither a failure nor “not reached”
DEFAULT_STUCK_MINUTES = 10.0
# A failure's message quotes what the learner named (snapshots, files): a row shows this much of it.
MESSAGE_LIMIT = 240


def untouched(chapter: Chapter, observation: Any, history: History, params: dict[str, str],
              results: list[Result]) -> bool:
    """Whether nothing of the learner's doing shows yet (False when the chapter cannot tell)."""
    if chapter.untouched is None or getattr(observation, "unobserved", None) is not None:
        return False
    passing = {r.step for r in results if r.status is Status.PASSED}
    return not history.events and history.passed <= passing and chapter.untouched(observation, history, params)


@dataclass(frozen=True)
class Progress:
    """One learner's place in the chapter, as a trainer reads it across the room."""

    not_started: bool
    step: str | None = None  # the first step that fails; None when not started or none fails
    since: datetime | None = None  # when they reached it (the previous step passed, or they started)
    stuck: bool = False
    failure: Result | None = None  # the check that fails on that step, if it does

    def seconds(self, now: datetime) -> int | None:
        return None if self.since is None else max(0, round((now - self.since).total_seconds()))


def progress_of(results: list[Result], attempt: Attempt | None, not_started: bool, now: datetime,
                stuck_after: timedelta) -> Progress:
    if not_started:
        return Progress(True)
    # A step that cannot be verified (its evidence was consumed before anyone looked) is not where they are.
    current = next((r for r in results if r.status is Status.FAILED), None)
    if current is None:
        return Progress(False)
    attempt_marks = attempt.marks if attempt else {}
    passed_at = [when for step, when in (attempt.first_pass if attempt else {}).items()
                 if step in {r.step for r in results if r.status is Status.PASSED}]
    stamps = passed_at + ([attempt_marks[STARTED]] if STARTED in attempt_marks else [])
    since = max(stamps) if stamps else None
    failure = (current if current.status is Status.FAILED and not (current.diagnosis or "").startswith("order:")
               else None)
    stuck = since is not None and now - since >= stuck_after
    return Progress(False, current.step, since, stuck, failure)


def bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
