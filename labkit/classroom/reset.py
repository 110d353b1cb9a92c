"""Resetting one learner's lab: `labkit class reset NAME LEARNER`, and the dashboard's button.

The chapter's own reset (what `labkit reset` does for a learner alone) is applied to the
learner's instance in their project, with the instructor's access; then the instance's
identity as it is now becomes the baseline of the new attempt, in the instance and in the
learner's project (where the learner cannot write it, and where the class view reads it), and
the instructor's journal of that learner starts a new attempt.  Every reset is journaled in
the class folder, one JSON line each: who reset whom, when, and from where.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import UsageError
from ..grading.contract import INSTANCE_PARAM
from ..grading.engine import Chapter
from ..i18n import M, Message
from ..incus.client import IncusClient
from ..labs import chapter_named
from ..labs.baseline import baseline_config
from .info import ClassInfo
from .observe import learner_access
from .projects import update_project
from .status import RESETS_FILE, DeclaredServers, journal_of_params

# A line of the resets journal names a learner and an instructor: both bounded, whatever they are.
NAME_LIMIT = 64


@dataclass(frozen=True)
class ResetPlan:
    """What a reset of one learner will do, known before anything changes (the confirmation says it)."""

    info: ClassInfo
    chapter: Chapter
    learner: str
    params: dict[str, str]

    @property
    def project(self) -> str:
        return self.info.learners[self.learner]

    def question(self) -> Message:
        return M("class.reset.confirm", "Reset the lab of {learner} (project “{project}”)? {question}",
                 learner=self.learner, project=self.project, question=self.chapter.reset_question.bind(**self.params))


def plan_reset(client: IncusClient, name: str, learner: str) -> ResetPlan:
    projects = client.request("GET", "/1.0/projects", params={"recursion": 1}, project=False) or []
    info = ClassInfo.from_projects(name, projects)
    if learner not in info.learners:
        raise UsageError(M("class.reset.unknown_learner", "The class “{name}” has no learner “{learner}”. Its "
                                                          "learners are: {learners}.",
                           name=name, learner=learner, learners=", ".join(info.learners) or "—"))
    chapter = chapter_named(info.lab)
    params = info.params(chapter, None) | info.learner_params().get(learner, {})
    return ResetPlan(info, chapter, learner, params)


def apply_reset(client: IncusClient, plan: ResetPlan, folder: Path, *, by: str, via: str) -> dict[str, Any]:
    """Reset, rebase, start a new attempt, journal it; returns the journal's entry."""
    project, container = plan.project, plan.params[INSTANCE_PARAM]
    with DeclaredServers(plan.chapter) as servers:
        plan.chapter.reset(learner_access(client, project, servers.openers), plan.params)
    baseline = rebase(client, project, container)
    journal = journal_of_params(folder, plan.info, plan.learner, plan.chapter, plan.params)
    closed = journal.attempt
    journal.archive()
    entry = {"time": datetime.now(timezone.utc).isoformat(), "class": plan.info.name, "learner": plan.learner,
             "project": project, "lab": plan.chapter.id, "by": by[:NAME_LIMIT], "via": via,
             "attempt_closed": closed, "baseline": baseline}
    record(folder, entry)
    return entry


def rebase(client: IncusClient, project: str, container: str) -> dict[str, str]:
    """The instance as it is after the reset is the start of the new attempt: a restore made before the
    reset must not prove one after it.  Written in the instance (the learner's own `labkit check`
    reads it there) and in the project, which the class view trusts."""
    path, params = f"/1.0/instances/{quote(container)}", {"project": project}
    config = (client.request("GET", path, params=params) or {}).get("config") or {}
    baseline = {k: str(v) for k, v in baseline_config(config).items()}
    client.request("PATCH", path, params=params, json={"config": baseline})
    update_project(client, project, baseline)
    return baseline


def record(folder: Path, entry: dict[str, Any]) -> None:
    """One line appended to the class's resets journal (owner-only; a symbolic link is refused)."""
    folder.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(folder / RESETS_FILE, flags, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")


def resets(folder: Path) -> list[dict[str, Any]]:
    """Every reset journaled in the class folder, oldest first."""
    path = folder / RESETS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def who() -> str:
    """The person at the terminal: the account that ran sudo, else the current one."""
    import getpass

    return os.environ.get("SUDO_USER") or getpass.getuser()
