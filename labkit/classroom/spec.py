"""What a class is: its name, its learners, their limits, and where their access goes.

Pure definitions and validation, apart from the code that creates and removes
classes on the server (create.py).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidName, UsageError
from ..grading.contract import INSTANCE_PARAM
from ..i18n import M, Message
from ..incus.client import IncusClient
from ..keys import CLASS_KEY, CONTAINER_KEY, IMAGE_KEY, LAB_KEY, LEARNER_KEY, LEARNERS_KEY, LIMITS_KEY, ROLE_KEY
from ..labs import DEFAULT_LAB, chapter_named
from ..paths import state_dir

CLASS_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]{0,28}[A-Za-z0-9])?$")
LEARNER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,30}[A-Za-z0-9])?$")
SIZE = re.compile(r"^(\d+)\s*(B|kB|MB|GB|TB|KiB|MiB|GiB|TiB)?$")
UNITS = {None: 1, "B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def validate_class_name(name: str) -> str:
    if not CLASS_NAME.match(name or ""):
        raise InvalidName(M("class.names.class", "“{name}” cannot name a class: use 1 to 30 letters, digits or "
                                                 "hyphens, starting with a letter and not ending with a hyphen (for "
                                                 "example demo or bts-2026).", name=name))
    return name


def validate_learners(names: list[str], source: Message | None = None) -> tuple[str, ...]:
    """Incus project names may not hold spaces, slashes, underscores or quotes; we keep to a safe subset."""
    source = source or M("class.names.from_args", "the command line")
    bad = [n for n in names if not LEARNER_NAME.match(n)]
    if bad:
        raise InvalidName(M("class.names.learner", "These learner names from {source} cannot be used: {names}. A name "
                                                   "is 1 to 32 letters, digits, hyphens or dots, starting and ending "
                                                   "with a letter or digit (no spaces, accents or underscores: "
                                                   "“marie-dupont”, not “Marie Dupont”).",
                            names=", ".join(f"“{n}”" for n in bad), source=source))
    counts = Counter(n.lower() for n in names)
    twice = sorted(n for n, c in counts.items() if c > 1)
    if twice:
        raise UsageError(M("class.names.duplicates", "These learners appear more than once in {source}: {names}. Each "
                                                     "learner needs a name of their own.",
                           names=", ".join(twice), source=source))
    if not names:
        raise UsageError(M("class.names.none", "There is no learner in {source}.", source=source))
    return tuple(names)


def numbered_learners(count: int) -> tuple[str, ...]:
    if not 1 <= count <= 999:
        raise UsageError(M("class.names.count", "--learners takes a number from 1 to 999, not {count}.", count=count))
    return tuple(f"learner{i:0{max(2, len(str(count)))}d}" for i in range(1, count + 1))


def read_roster(path: Path) -> tuple[str, ...]:
    """One learner per line; blank lines and lines starting with # are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(M("class.names.roster_unreadable", "The roster {path} cannot be read: {detail}",
                           path=str(path), detail=str(exc))) from exc
    names = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return validate_learners(names, M("class.names.from_roster", "the roster {path}", path=str(path)))


def parse_size(text: str) -> int:
    match = SIZE.match(str(text).strip())
    if not match or int(match.group(1)) == 0:
        raise UsageError(M("class.limits.bad_size", "“{value}” is not a size Incus understands: write a number and a "
                                                    "unit, for example 512MiB or 4GiB.", value=text))
    return int(match.group(1)) * UNITS[match.group(2)]


@dataclass(frozen=True)
class Limits:
    """A learner project's limits; each instance gets an equal share through the project's profile."""

    instances: int = 2
    disk: str = "6GiB"
    memory: str = "2GiB"
    processes: int = 2000

    def __post_init__(self) -> None:
        parse_size(self.disk), parse_size(self.memory)
        if self.instances < 1 or self.processes < self.instances:
            raise UsageError(M("class.limits.bad_count", "The limits need at least one instance and "
                                                         "one process per instance."))

    def _share(self, size: str) -> str:
        return f"{parse_size(size) // self.instances // 2**20}MiB"

    @property
    def root_size(self) -> str:
        return self._share(self.disk)

    def project_config(self) -> dict[str, str]:
        return {"restricted": "true", "restricted.snapshots": "allow", "limits.instances": str(self.instances),
                "limits.disk": self.disk, "limits.memory": self.memory, "limits.processes": str(self.processes)}

    def profile_config(self) -> dict[str, str]:
        # Incus requires every instance of a project with these limits to set them.
        return {"limits.memory": self._share(self.memory), "limits.processes": str(self.processes // self.instances)}

    def to_text(self) -> str:
        return f"instances={self.instances},disk={self.disk},memory={self.memory},processes={self.processes}"

    @classmethod
    def from_text(cls, text: str | None, **overrides: Any) -> Limits:
        stored = dict(item.split("=", 1) for item in (text or "").split(",") if "=" in item)
        values = {k: v for k, v in {**stored, **{k: v for k, v in overrides.items() if v is not None}}.items()
                  if k in cls.__dataclass_fields__}
        return cls(**{k: int(v) if k in ("instances", "processes") else str(v) for k, v in values.items()})


@dataclass(frozen=True)
class ClassSpec:
    name: str
    learners: tuple[str, ...]
    folder: Path  # on the instructor's machine: access bundles and the instructor's journals
    container: str = ""  # empty: the lab's own (its chapter's default)
    image: str | None = None
    pool: str | None = None
    limits: Limits = field(default_factory=Limits)
    listen: str | None = None
    targets: tuple[str, ...] = ()  # cluster members, used in turn
    lab: str = DEFAULT_LAB

    def __post_init__(self) -> None:
        # At most 30 + 1 + 32 characters: a project name stays under 64.
        validate_class_name(self.name)
        validate_learners(list(self.learners))
        chapter = chapter_named(self.lab)
        if not self.container:
            object.__setattr__(self, "container", chapter.defaults[INSTANCE_PARAM])

    @property
    def class_project(self) -> str:
        return self.name

    def project(self, learner: str) -> str:
        return f"{self.name}-{learner}"

    def certificate_name(self, learner: str) -> str:
        """On the main server, and on the snapshot server the name the learner's token gives their certificate."""
        return f"labkit:{self.name}:{learner}"

    def bundle(self, learner: str) -> Path:
        return self.folder / "learners" / learner


def default_folder(name: str, environ: dict[str, str] | None = None) -> Path:
    return state_dir(environ) / "classes" / name


def spec_for(client: IncusClient, name: str, *, learners: tuple[str, ...] | None, folder: Path,
             container: str | None = None, image: str | None = None, pool: str | None = None,
             listen: str | None = None, targets: tuple[str, ...] = (), lab: str | None = None,
             **limits: Any) -> ClassSpec:
    """A class as asked, completed by what an earlier run recorded (learners, limits, image, container, lab)."""
    validate_class_name(name)
    projects = client.request("GET", "/1.0/projects", params={"recursion": 1}, project=False) or []
    mine = [p["config"] for p in projects if (p.get("config") or {}).get(CLASS_KEY) == name]
    head = next((c for c in mine if c.get(ROLE_KEY) == "class"), {})
    recorded = head.get(LAB_KEY) or (DEFAULT_LAB if head else None)
    if lab and recorded and lab != recorded:
        raise UsageError(M("class.create.other_lab", "The class “{name}” was created for the lab “{recorded}”, not "
                                                     "“{lab}”: a class does one lab. Create another class for "
                                                     "“{lab}”, or leave out --lab.",
                           name=name, recorded=recorded, lab=lab))
    chapter = chapter_named(lab or recorded or DEFAULT_LAB)
    if learners is None:
        # A half-created class is completed with the learners its first run was given.
        listed = [n for n in head.get(LEARNERS_KEY, "").split(",") if n]
        learners = tuple(listed or sorted(c[LEARNER_KEY] for c in mine if c.get(ROLE_KEY) == "learner"))
        if not learners:
            raise UsageError(M("class.create.no_learners", "Say who the learners are: --learners N (learner01, "
                                                           "learner02…) or --roster FILE (one name per line)."))
    return ClassSpec(name, learners, folder, container or head.get(CONTAINER_KEY, chapter.defaults[INSTANCE_PARAM]),
                     image or head.get(IMAGE_KEY), pool, Limits.from_text(head.get(LIMITS_KEY), **limits), listen,
                     targets, chapter.id)
