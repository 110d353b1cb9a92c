"""The chapter contract: what the engine, sessions, classes, the hub and the CLI may assume of a
chapter, typed here and nowhere else.  A chapter (labkit/labs/<id>/) provides a `Chapter`
(engine.py) whose hooks return objects of these shapes; nothing outside labs/ reads a chapter's
own fields.  docs/writing-a-chapter.md walks a chapter author through it in order.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ..servers import Server  # noqa: F401 - part of the contract: what `Chapter.needs` holds

if TYPE_CHECKING:
    from ..i18n import Message

# Every chapter's params name the learner's lab instance under this key (its default in
# `Chapter.defaults`): setup launches it, journals are filed under it, a class copies it to learners.
INSTANCE_PARAM = "container"
# The optional param of the chapter's own snapshot name (`--snapshot`): journals record it.
SNAPSHOT_PARAM = "snapshot"


class InstanceIdentity(Protocol):
    """Who the learner's instance is: Incus's volatile.uuid and its generation (which a restore
    changes), and the generation a class or setup recorded for this very instance, if any.
    The journal files an attempt under it: a new identity is a new attempt."""

    @property
    def uuid(self) -> str | None: ...

    @property
    def generation(self) -> str | None: ...

    @property
    def recorded_generation(self) -> str | None: ...


class Observation(Protocol):
    """A chapter's one look at Incus, as the layers above the chapter use it (the checks read the
    chapter's own fields; nothing else does)."""

    # The learner's lab instance, None when it is gone.
    @property
    def instance(self) -> InstanceIdentity | None: ...

    # When the look was taken.
    @property
    def taken_at(self) -> datetime | None: ...

    # Why the instance could not be looked at (a class view shows it and goes on), else None.
    @property
    def unobserved(self) -> Message | None: ...

    # What `labkit check --json` and the class report print of the observation.
    def to_json(self) -> dict[str, Any]: ...


# What a chapter's `observe_class` returns: one learner's look, run with the class's time limits.
# look(learner, access, history) -> Observation (access: access.Access, history: engine.History)
ClassLook = Callable[[str, Any, Any], Observation]


def keep_nothing_apart(event: dict[str, Any], params: dict[str, str]) -> bool:
    return False


def keep_no_event(events: list[dict[str, Any]], times: list[datetime]) -> set[int]:
    return set()


@dataclass(frozen=True)
class Retention:
    """How a chapter's journal stays bounded without losing its evidence.

    The journal keeps the newest `KEPT_PER_ACTION` events of each action; a chapter says which
    events are counted apart from the rest of their action (`counted_apart(event, params)`: its own
    snapshot's, so a flood about other snapshots never pushes them out), and which must stay
    whatever their number (`always_kept(events, times)`: the indices of its lasting evidence)."""

    counted_apart: Callable[[dict[str, Any], dict[str, str]], bool] = keep_nothing_apart
    always_kept: Callable[[list[dict[str, Any]], list[datetime]], set[int]] = keep_no_event
