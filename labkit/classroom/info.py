"""What a class's projects say of it: its name, lab, instance, learners and their trusted
baselines, read from the project config `class create` wrote (which learners cannot write)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import UsageError
from ..grading.contract import INSTANCE_PARAM, SNAPSHOT_PARAM
from ..grading.engine import Baseline, Chapter
from ..i18n import M
from ..keys import CLASS_KEY, CONTAINER_KEY, LAB_KEY, LEARNER_KEY, ROLE_KEY, TRUST_KEY
from ..labs import DEFAULT_LAB, chapter_named
from ..labs.baseline import BASELINE_GENERATION, BASELINE_UUID


@dataclass(frozen=True)
class ClassInfo:
    name: str
    container: str
    learners: dict[str, str]  # learner -> project
    # learner -> (volatile.uuid, volatile.uuid.generation) of the instance `class create` made,
    # held in the learner's project config, which the learner can read but not write.
    baselines: dict[str, tuple[str, str]] = field(default_factory=dict)
    lab: str = DEFAULT_LAB
    # learner -> the name their certificate is trusted under on the lab's other servers (learner_params).
    trust_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_projects(cls, name: str, projects: list[dict[str, Any]]) -> ClassInfo:
        mine = [p for p in projects if (p.get("config") or {}).get(CLASS_KEY) == name]
        head = next((p for p in mine if p["config"].get(ROLE_KEY) == "class"), None)
        learners = {p["config"][LEARNER_KEY]: p for p in mine if p["config"].get(ROLE_KEY) == "learner"}
        if head is None and not learners:
            raise UsageError(M("class.status.unknown", "There is no class “{name}” on this server (no project carries "
                                                       "user.labkit.class={name}). Create it with “labkit class "
                                                       "create {name} --learners N”.", name=name))
        head_config = (head or {}).get("config", {})
        lab = head_config.get(LAB_KEY) or DEFAULT_LAB
        container = head_config.get(CONTAINER_KEY) or chapter_named(lab).defaults[INSTANCE_PARAM]
        baselines = {learner: (p["config"][BASELINE_UUID], p["config"][BASELINE_GENERATION])
                     for learner, p in learners.items()
                     if p["config"].get(BASELINE_UUID) and p["config"].get(BASELINE_GENERATION)}
        trust = {learner: p["config"][TRUST_KEY] for learner, p in learners.items() if p["config"].get(TRUST_KEY)}
        return cls(name, container, {k: learners[k]["name"] for k in sorted(learners)}, baselines, lab, trust)

    def params(self, chapter: Chapter, snapshot: str | None) -> dict[str, str]:
        """The chapter's params for the whole class: its defaults, the class's instance name."""
        params = dict(chapter.defaults) | {INSTANCE_PARAM: self.container}
        return params | ({SNAPSHOT_PARAM: snapshot} if snapshot else {})

    def learner_params(self) -> dict[str, dict[str, str]]:
        """What differs per learner: the name their certificate is trusted under on every server the lab
        declares (one name for all of them), given to the chapter under each server's trust param."""
        wanted = [server.trust_param for server in chapter_named(self.lab).needs if server.trust_param]
        return {learner: dict.fromkeys(wanted, name) for learner, name in self.trust_names.items()}

    def baseline(self, learner: str) -> Baseline | None:
        held = self.baselines.get(learner)
        return None if held is None else Baseline(held[0], held[1], datetime.now(timezone.utc), trusted=True)
