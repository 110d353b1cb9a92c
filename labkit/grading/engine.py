"""The grading engine: run a chapter's pure checks on one observation and its history.

The engine knows steps, verdicts, points and the journal's memory; it knows nothing
about any chapter.  A chapter is data (`Chapter`, `Step`) plus pure check functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable

from ..i18n import M, Message
from ..servers import Server
from .contract import ClassLook, Observation, Retention

if TYPE_CHECKING:
    from .access import Access


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_VERIFIED = "not_verified"


class Outcome(str, Enum):
    """What a check concluded, before the engine consults the journal."""

    PASSED = "passed"
    FAILED = "failed"
    # The evidence was legitimately removed by a later step of the chapter.
    CONSUMED = "consumed"


@dataclass(frozen=True)
class Verdict:
    """What a step's check decided, and why."""

    outcome: Outcome
    message: Message
    hint: Message | None = None
    evidence: tuple[Message, ...] = ()
    # A stable id of the mistake, counted by class views ("most common failure").
    diagnosis: str | None = None


def passed(message: Message, *evidence: Message) -> Verdict:
    return Verdict(Outcome.PASSED, message, None, evidence)


def failed(message: Message, hint: Message | None, diagnosis: str, *evidence: Message) -> Verdict:
    return Verdict(Outcome.FAILED, message, hint, evidence, diagnosis)


def consumed(message: Message, *evidence: Message, how: Message | None = None) -> Verdict:
    """The evidence is gone or was never seen: not verified (unless the journal saw the step pass).
    `how` says how to get the step verified; without it, the engine's general advice."""
    return Verdict(Outcome.CONSUMED, message, how, evidence)


# Not an Incus event: the event recorder's own look at a chapter's file (HEAD on the files
# API), context {"path", "present", "modified"}; what a check at that moment would have seen.
FILE_SEEN = "labkit-file-seen"
# Not an Incus event either: a command run in the instance (`incus exec`) that named a chapter's file,
# as the daemon reported its end (the operation's command and exit code, the daemon's time), context
# {"path", "command", "return"}.  Unlike a sighting it does not depend on how soon anyone looks.
EXEC_ENDED = "labkit-exec-ended"


@dataclass(frozen=True)
class Event:
    """A lifecycle event seen by a listener, kept in the journal."""

    action: str
    time: datetime
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Baseline:
    """The instance as it was when the attempt began (for lasting proof of a restore)."""

    uuid: str | None
    generation: str | None
    recorded_at: datetime
    # Held where the learner cannot write (a class's project config), not read back from the
    # instance's user.* keys: the instance must then match it, or it was replaced or tampered with.
    trusted: bool = False


@dataclass(frozen=True)
class History:
    """What the journal holds for this attempt: steps passed, the baseline, events seen."""

    passed: frozenset[str] = frozenset()
    baseline: Baseline | None = None
    events: tuple[Event, ...] = ()

    def saw(self, action: str, **context: Any) -> Event | None:
        return next((e for e in reversed(self.events) if e.action == action
                     and all(e.context.get(k) == v for k, v in context.items())), None)


@dataclass(frozen=True)
class Step:
    """One step of a chapter: its points, its title, its check, its nudge and solution."""

    id: str
    points: int
    title: Message
    check: Callable[[Context], Verdict]
    nudge: Message
    solution: Message
    # The shell commands that perform the step, for notebooks and tests.
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chapter:
    """Everything the engine, the CLI, the classes and the notebook builder know of a chapter.

    `observe(access, params)` is the chapter's one look at Incus (I/O, returns the chapter's own
    observation, which the layers above read only through `contract.Observation`);
    `reset(access, params)` puts the learner's instances back at the chapter's start (the session
    archives the journal itself).  `params` always holds every key of `defaults`."""

    id: str
    title: Message
    steps: tuple[Step, ...]
    defaults: dict[str, str]
    observe: Callable[[Access, dict[str, str]], Observation] | None = None
    reset: Callable[[Access, dict[str, str]], None] | None = None
    # The CLI's confirmation before a reset, formatted with the params.
    reset_question: Message | None = None
    # Its notebook's name: notebooks/<lang>/<notebook>.ipynb, built from `notebook_source` (by default
    # notebooks/source/<notebook>.md; a path from the repository's root, so it may sit in the chapter's folder).
    notebook: str = ""
    notebook_source: str = ""
    # What its notebook's gettext contexts start with (default "<notebook>/"): the first chapter's are
    # unprefixed, as they were translated before there was a second; declared, so order never matters.
    notebook_context: str | None = None
    # The servers the chapter needs besides the main one (labkit.servers): setup brings them up,
    # classes make each learner's side there, the hub wires them into workspaces.
    needs: tuple[Server, ...] = ()
    # A class view's faster look, optional: `observe_class(main, params, projects, instances, cache)`
    # is called once per refresh with the admin client, {learner: project}, the all-projects instance
    # listing (None on a partial refresh) and a cache kept across a watch's refreshes; it returns
    # `look(learner, access, history) -> observation`, run per learner with the class's time limits.
    # Without it, a class view calls `observe(access, params)` per learner.
    observe_class: Callable[..., ClassLook] | None = None
    # Whether an observation shows the learner's instances as the chapter's start left them
    # (`untouched(observation, history, params)`, pure): a class view then shows the learner as
    # not started rather than failing, and never counts them among the mistakes.
    untouched: Callable[[Any, History, dict[str, str]], bool] | None = None
    # How its journal stays bounded without losing the chapter's evidence (contract.Retention).
    retention: Retention = Retention()

    def needs_server(self, server: Server) -> bool:
        return any(need.id == server.id for need in self.needs)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.steps)


@dataclass
class Context:
    """What a step's check reads: the observation, the history, the params, earlier results."""

    # The chapter's own observation: the engine never looks inside.
    observation: Any
    history: History
    params: dict[str, str]
    earlier: dict[str, Result] = field(default_factory=dict)

    def passed(self, step_id: str) -> bool:
        result = self.earlier.get(step_id)
        return result is not None and result.status is Status.PASSED


@dataclass(frozen=True)
class Result:
    """A step's verdict as graded: status, points, and what to tell the learner."""

    step: str
    status: Status
    points: int
    possible: int
    message: Message
    hint: Message | None = None
    evidence: tuple[Message, ...] = ()
    diagnosis: str | None = None

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def to_json(self, lang: str) -> dict[str, Any]:
        return {
            "id": self.step, "status": self.status.value, "passed": self.passed, "points": self.points,
            "message": self.message.render(lang), "hint": self.hint.render(lang) if self.hint else None,
            "evidence": [e.render(lang) for e in self.evidence],
        }


@dataclass(frozen=True)
class Score:
    """Points earned out of points possible."""

    earned: int
    possible: int

    @classmethod
    def of(cls, results: list[Result]) -> Score:
        return cls(sum(r.points for r in results), sum(r.possible for r in results))


NOT_VERIFIED_HINT = M("engine.not_verified_hint", "Check each step right after doing it "
                                                  "(“labkit check STEP” or the notebook's check cell), or "
                                                  "keep the event recorder running (“labkit setup” starts "
                                                  "it): labkit then sees each action as it happens.")


def resolve(step: Step, verdict: Verdict, history: History) -> Result:
    """Turn a check's verdict into a graded result, using what the journal remembers.

    The rule every chapter follows: a step is *failed* only on evidence that it was not done or done
    wrong (a check's FAILED); when its evidence is gone or was never seen (CONSUMED), it is *not
    verified*, always with the reason and how to get it verified, never failed."""
    if verdict.outcome is Outcome.PASSED:
        return Result(step.id, Status.PASSED, step.points, step.points, verdict.message, None, verdict.evidence)
    if verdict.outcome is Outcome.FAILED:
        return Result(step.id, Status.FAILED, 0, step.points, verdict.message, verdict.hint, verdict.evidence,
                      verdict.diagnosis)
    if step.id in history.passed:
        message = M("engine.kept", "{reason} This step passed earlier in this attempt.", reason=verdict.message)
        return Result(step.id, Status.PASSED, step.points, step.points, message, None, verdict.evidence)
    message = M("engine.not_verified", "{reason} This step was never checked while its "
                                       "evidence was there, so it cannot be verified now.", reason=verdict.message)
    return Result(step.id, Status.NOT_VERIFIED, 0, step.points, message, verdict.hint or NOT_VERIFIED_HINT,
                  verdict.evidence, "not_verified")


def grade(chapter: Chapter, observation: Any, history: History, params: dict[str, str],
          steps: list[str] | None = None) -> list[Result]:
    """Grade every step in order (later checks may look at earlier results), return those asked for."""
    context = Context(observation, history, params)
    for step in chapter.steps:
        context.earlier[step.id] = resolve(step, step.check(context), history)
    wanted = steps or list(chapter.step_ids)
    return [context.earlier[s] for s in wanted]
