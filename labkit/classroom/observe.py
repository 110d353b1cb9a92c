"""What a class view looks at, learner by learner, with every cost bounded.

The chapter decides what a look is: its own class-wide `observe_class` hook when it has one (the
first chapter reads every learner from a few all-projects listings), else its `observe` run for
each learner with an Access limited to the learner's projects.  Either way each learner's look
runs here, concurrently, under the same time limits: a learner whose look fails or takes too long
gets an observation that says why (`unobserved`); the others are graded as usual.
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from ..errors import LabkitError
from ..grading.access import Access
from ..grading.engine import Chapter, History
from ..i18n import M, Message, Number
from ..incus.client import IncusClient
from ..pools import named_pool

# One learner's look is bounded: a request that hangs (a wedged instance) makes that learner
# “could not be observed”, never the whole class late or failed.
REQUEST_SECONDS = 4.0
LEARNER_SECONDS = 6.0
# Two pools, made on first use: learners wait on requests, requests never wait, so neither starves.
def learners_pool() -> ThreadPoolExecutor:
    return named_pool("class", 32)


def requests_pool() -> ThreadPoolExecutor:
    return named_pool("class-io", 16)


@dataclass(frozen=True)
class Unobserved:
    """All a class view has of a learner it could not look at (or whose member is down): why."""

    unobserved: Message | None
    taken_at: datetime | None = None
    instance: None = None

    def to_json(self) -> dict[str, Any]:
        return {"unobserved": None if self.unobserved is None else self.unobserved.render("en"),
                "taken_at": self.taken_at.isoformat() if self.taken_at else None}


def in_project(client: IncusClient, project: str) -> IncusClient:
    """The same client (and connection pool), addressing another project."""
    view = copy.copy(client)
    view.project = project
    return view


def learner_access(main: IncusClient, project: str, servers: dict[str, Callable[[], IncusClient]]) -> Access:
    """What a learner's look may reach: their project on the main server, and on each server the
    chapter declares (through labkit's own client, opened once for the class); never their client
    configuration, which lives on their side.  Every request of it is bounded by REQUEST_SECONDS."""
    view = in_project(main, project)
    view.timeout = REQUEST_SECONDS

    def in_learners_project(open_server: Callable[[], IncusClient]) -> Callable[[], IncusClient]:
        def open_it() -> IncusClient:
            server = in_project(open_server(), project)
            server.timeout = REQUEST_SECONDS
            return server
        return open_it

    return Access(view, {kind: in_learners_project(open_server) for kind, open_server in servers.items()}, None)


LearnerLook = Callable[[str, Access, "History | None"], Any]


def chapter_look(chapter: Chapter, main: IncusClient, params: dict[str, str], extra: dict[str, dict[str, str]],
                 projects: dict[str, str], instances: list[dict[str, Any]] | None,
                 cache: dict[tuple, Any]) -> LearnerLook:
    """The chapter's own class-wide look when it has one, else its `observe` for each learner, with
    the class's params and the learner's own (`extra`: what differs per learner, e.g. a trust name)."""
    if chapter.observe_class is not None:
        return chapter.observe_class(main, params, projects, instances, cache)
    return lambda learner, access, history: chapter.observe(access, params | extra.get(learner, {}))


def observe_learners(look: LearnerLook, accesses: dict[str, Access],
                     histories: dict[str, History]) -> dict[str, Any]:
    """Every learner's look at once; one that fails or outlasts LEARNER_SECONDS gives `Unobserved`."""
    taken_at = datetime.now(timezone.utc)
    jobs = {learner: learners_pool().submit(look, learner, access, histories.get(learner))
            for learner, access in accesses.items()}
    wait(jobs.values(), timeout=LEARNER_SECONDS)
    seen = {}
    for learner, job in jobs.items():
        reason = _failure(job)
        seen[learner] = job.result() if reason is None else Unobserved(reason, taken_at)
    return seen


def _failure(job: Any) -> Message | None:
    """Why a learner's look gave no observation, or None when it did."""
    if not job.done():
        whole = LEARNER_SECONDS == int(LEARNER_SECONDS)
        seconds = int(LEARNER_SECONDS) if whole else Number(LEARNER_SECONDS)  # "6 s", or "0,5 s" in French
        return M("class.status.too_slow", "no answer within {seconds} s", seconds=seconds)
    exc = job.exception()
    if exc is None:
        return None
    if isinstance(exc, LabkitError):
        return exc.message
    detail = f"{type(exc).__name__}: {exc}"  # a bug's own words: not a message to translate
    return M("class.status.look_failed", "{detail}", detail=detail)
