"""One learner's lab: the Incus client, the chapter, the journal, wired together.

This is where I/O happens for grading: observe once, grade purely, record.
The CLI and the notebook API are thin layers over `Session`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import journal as journal_mod
from .engine import Chapter, Result, Score, grade
from ..errors import UsageError
from ..i18n import M, Message
from ..incus.client import Endpoint, IncusClient, find_endpoint
from .journal import Journal
from ..labs import CHAPTERS
from ..incus.names import validate_instance, validate_project, validate_snapshot
from ..labs.snapshots_observe import Observation, observe


@dataclass(frozen=True)
class Report:
    results: list[Result]
    score: Score
    observation: Observation
    warnings: list[Message] = field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.results)


class Session:
    def __init__(self, *, lab: str = "snapshots", container: str | None = None, snapshot: str | None = None,
                 project: str | None = None, journal: str | Path | None = None, endpoint: Endpoint | None = None,
                 client: IncusClient | None = None, lean_reads: bool = False):
        self.chapter: Chapter = CHAPTERS[lab]
        self.container = validate_instance(container or self.chapter.defaults["container"])
        self.snapshot = validate_snapshot(snapshot or self.chapter.defaults["snapshot"])
        # The file the chapter watches (the snapshots chapter: /root/this_file.txt).
        self.file_path = self.chapter.defaults["file"]
        if project is not None:
            validate_project(project)
        self.endpoint = endpoint or find_endpoint(project)
        # lean_reads: GET and HEAD without httpx (unix_http.py), for the `labkit check` command.
        self.client = client or IncusClient(self.endpoint, lean_reads=lean_reads)
        self.project = self.client.project
        self.journal = Journal(Path(journal) if journal else journal_mod.default_path(lab, self.project, self.container),
                               lab, self.project, self.container, self.snapshot)

    @property
    def params(self) -> dict[str, str]:
        return {"container": self.container, "snapshot": self.snapshot}

    def steps(self, wanted: list[str] | None) -> list[str]:
        known = self.chapter.step_ids
        for step in wanted or []:
            if step not in known:
                raise UsageError(M("cli.unknown_step", "“{step}” is not a step of this lab. The steps are: {steps}.", step=step, steps=", ".join(known)))
        return list(wanted or known)

    def observe(self) -> Observation:
        return observe(self.client, self.container, self.snapshot, self.file_path)

    def check(self, steps: list[str] | None = None) -> Report:
        wanted = self.steps(steps)
        obs = self.observe()
        if obs.instance is None and self.journal.data.get("baseline") is None:
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

    def record_events(self, entries: list[dict]) -> None:
        self.journal.record_events(entries)

    def _drain_warnings(self) -> list[Message]:
        warnings, self.journal.warnings = self.journal.warnings, []
        return warnings

    def close(self) -> None:
        self.client.close()
