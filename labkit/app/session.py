"""One learner's lab: the Incus client, the chapter, the journal, wired together.

This is where I/O happens for grading: the chapter observes once, the engine grades purely,
the journal records.  The CLI and the notebook API are thin layers over `Session`; none of
them knows which chapter it runs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import UsageError
from ..grading import journal as journal_mod
from ..grading.access import Access
from ..grading.contract import INSTANCE_PARAM, SNAPSHOT_PARAM
from ..grading.engine import Chapter, Result, Score, grade
from ..grading.journal import Journal
from ..i18n import M, Message
from ..incus.client import Endpoint, IncusClient, find_endpoint
from ..incus.names import validate_instance, validate_project, validate_snapshot
from ..labs import DEFAULT_LAB, chapter_named
from ..provision.servers import admin_client_for
from ..servers import Server


@dataclass(frozen=True)
class Report:
    """What a check returns: results, score, the observation, warnings."""

    results: list[Result]
    score: Score
    observation: Any
    warnings: list[Message] = field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.results)


def chapter_params(chapter: Chapter, container: str | None = None, snapshot: str | None = None,
                   extra: dict[str, str] | None = None) -> dict[str, str]:
    """The chapter's defaults with the learner's names over them, every name checked before any request."""
    params = dict(chapter.defaults)
    params.update({k: v for k, v in (extra or {}).items() if v})
    if container:
        params[INSTANCE_PARAM] = container
    if snapshot:
        params[SNAPSHOT_PARAM] = snapshot
    if INSTANCE_PARAM in params:
        validate_instance(params[INSTANCE_PARAM])
    if SNAPSHOT_PARAM in params:
        validate_snapshot(params[SNAPSHOT_PARAM])
    return params


class Session:
    def __init__(self, *, lab: str = DEFAULT_LAB, container: str | None = None, snapshot: str | None = None,
                 project: str | None = None, journal: str | Path | None = None, endpoint: Endpoint | None = None,
                 client: IncusClient | None = None, lean_reads: bool = False, params: dict[str, str] | None = None,
                 access: Access | None = None):
        self.chapter: Chapter = chapter_named(lab)
        self.params = chapter_params(self.chapter, container, snapshot, params)
        self.container = self.params[INSTANCE_PARAM]
        self.snapshot = self.params.get(SNAPSHOT_PARAM, "")
        if project is not None:
            validate_project(project)
        self.endpoint = endpoint or find_endpoint(project)
        # lean_reads: GET and HEAD without httpx (unix_http.py), for the `labkit check` command.
        self.client = client or IncusClient(self.endpoint, lean_reads=lean_reads)
        self.project = self.client.project
        self.access = access or Access(self.client, server_openers(self.chapter, self.project, lean_reads),
                                       _client_config())
        path = Path(journal) if journal else journal_mod.default_path(self.chapter.id, self.project, self.container)
        self.journal = Journal.of_params(path, self.chapter.id, self.project, self.params, self.chapter.retention)

    def steps(self, wanted: list[str] | None) -> list[str]:
        known = self.chapter.step_ids
        for step in wanted or []:
            if step not in known:
                raise UsageError(M("cli.unknown_step", "“{step}” is not a step of this lab. The steps are: {steps}.",
                                   step=step, steps=", ".join(known)))
        return list(wanted or known)

    def observe(self) -> Any:
        return self.chapter.observe(self.access, self.params)

    def check(self, steps: list[str] | None = None) -> Report:
        wanted = self.steps(steps)
        obs = self.observe()
        if obs.instance is None and self.journal.attempt_view().baseline is None:
            # Never seen in this attempt: a wrong name, not a deletion to grade.
            self.client.instance(self.container)
        self.journal.ensure_baseline(obs.instance)
        results = grade(self.chapter, obs, self.journal.history(), self.params, wanted)
        self.journal.record_results(results)
        return Report(results, Score.of(results), obs, self._drain_warnings())

    def hint(self, step: str) -> tuple[int, Message]:
        """A nudge on the first ask, the exact command from the second on."""
        self.steps([step])
        level = self.journal.record_hint(step)
        chosen = self.chapter.step(step)
        message = chosen.nudge if level == 1 else chosen.solution
        return min(level, 2), message.bind(**self.params)

    def reset(self) -> Path | None:
        """Back to the chapter's start, and a new attempt in the journal; returns the archived journal."""
        self.chapter.reset(self.access, self.params)
        archived = self.journal.archive()
        self.journal.ensure_baseline(self.observe().instance)
        return archived

    def reset_question(self) -> Message:
        return self.chapter.reset_question.bind(**self.params)

    def record_events(self, entries: list[dict]) -> None:
        self.journal.record_events(entries)

    def _drain_warnings(self) -> list[Message]:
        warnings, self.journal.warnings = self.journal.warnings, []
        return warnings

    def close(self) -> None:
        self.access.close()
        self.client.close()


def server_openers(chapter: Chapter, project: str, lean_reads: bool = False) -> dict[str, Callable[[], IncusClient]]:
    """How to reach each server the chapter declares, in the learner's project (opened on first use)."""
    def opener(server: Server) -> Callable[[], IncusClient]:
        return lambda: admin_client_for(server, project, lean_reads=lean_reads)
    return {server.id: opener(server) for server in chapter.needs}


def _client_config() -> Path | None:
    return Path(os.environ.get("INCUS_CONF") or Path.home() / ".config" / "incus")
