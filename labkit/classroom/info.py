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
from ..servers import SNAPSHOT_SERVER


@dataclass(frozen=True)
class ClassInfo:
    name: str
    container: str
    learners: dict[str, str]  # learner -> project
    # learner -> (volatile.uuid, volatile.uuid.generation) of the instance `class create` made,
    # held in the learner's project config, which the learner can read but not write.
    baselines: dict[str, tuple[str, str]] = field(default_factory=dict)
    lab: str = DEFAULT_LAB
    # learner -> the name of their certificate on the snapshot server (the chapter's `learner` param).
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
        """What differs per learner: the name of the certificate their snapshot-server token made
        (the chapter's param the server declares, the name it looks for in the trust store)."""
        return {learner: {SNAPSHOT_SERVER.trust_param: name} for learner, name in self.trust_names.items()}

    def baseline(self, learner: str) -> Baseline | None:
        held = self.baselines.get(learner)
        return None if held is None else Baseline(held[0], held[1], datetime.now(timezone.utc), trusted=True)
