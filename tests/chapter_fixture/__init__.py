"""A small chapter kept under tests/ (never shipped), written against the public chapter contract
only: labkit.grading.engine (Chapter, Step, verdicts), labkit.grading.contract, labkit.i18n.M and
the main server's client an `Access` carries.  tests/unit/test_chapter_contract.py registers it
with LABKIT_CHAPTERS and runs it through every surface; if one of them still needed a change outside
a chapter's folder to take a new chapter, that test would fail.

Two steps on the lab instance: it runs, and it carries a description (what a learner sets with
`incus config set NAME --property description=...`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from labkit.grading.contract import INSTANCE_PARAM
from labkit.grading.engine import Chapter, Context, Step, Verdict, failed, passed
from labkit.i18n import M

ID = "described"


@dataclass(frozen=True)
class Identity:
    """contract.InstanceIdentity: Incus's own keys, which a learner cannot write."""

    uuid: str | None
    generation: str | None
    recorded_generation: str | None = None


@dataclass(frozen=True)
class Look:
    """contract.Observation, plus this chapter's own fields (status, description)."""

    instance: Identity | None
    status: str = ""
    description: str = ""
    taken_at: datetime | None = None
    unobserved: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "description": self.description,
                "taken_at": self.taken_at.isoformat() if self.taken_at else None}


def observe(access: Any, params: dict[str, str]) -> Look:
    data = access.main.instance_or_none(params[INSTANCE_PARAM])
    now = datetime.now(timezone.utc)
    if data is None:
        return Look(None, taken_at=now)
    config = data.get("config") or {}
    identity = Identity(config.get("volatile.uuid"), config.get("volatile.uuid.generation"))
    return Look(identity, data.get("status", ""), data.get("description") or "", now)


def check_running(ctx: Context) -> Verdict:
    look: Look = ctx.observation
    name = ctx.params[INSTANCE_PARAM]
    if look.status == "Running":
        return passed(M("described.running.ok", "{name} is running.", name=name))
    return failed(M("described.running.no", "{name} is not running ({status}).", name=name, status=look.status or "-"),
                  M("described.running.hint", "Start it: incus start {name}", name=name), "not_running")


def check_described(ctx: Context) -> Verdict:
    look: Look = ctx.observation
    name = ctx.params[INSTANCE_PARAM]
    if look.description.strip():
        return passed(M("described.describe.ok", "{name} says what it is for.", name=name))
    return failed(M("described.describe.no", "{name} has no description yet.", name=name),
                  M("described.describe.hint", "Give it one: incus config set {name} --property description=lab",
                    name=name), "no_description")


CHAPTER = Chapter(
    id=ID,
    title=M("described.title", "A described instance"),
    steps=(
        Step("running", 2, M("described.running.title", "The instance runs"), check_running,
             M("described.running.nudge", "Is it started?"), M("described.running.solution", "incus start {container}"),
             ("incus start {container}",)),
        Step("describe", 1, M("described.describe.title", "Describe the instance"), check_described,
             M("described.describe.nudge", "Instances have a description property."),
             M("described.describe.solution", "incus config set {container} --property description=lab"),
             ("incus config set {container} --property description=lab",)),
    ),
    defaults={INSTANCE_PARAM: "ubuntu-test"},
    observe=observe,
    notebook=ID,
    # Its notebook source sits in its own folder: a chapter is one folder.
    notebook_source="tests/chapter_fixture/notebook.md",
)
