"""One look at Incus: everything the checks need, gathered in a handful of requests.

Checks never talk to Incus; they read an `Observation`.  That keeps them pure,
fast, and testable on observations recorded from a real daemon.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .baseline import BASELINE_GENERATION, BASELINE_UUID
from .incus import FileInfo, IncusClient, parse_incus_time


@dataclass(frozen=True)
class Snapshot:
    name: str
    created_at: datetime | None
    stateful: bool

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Snapshot:
        return cls(data["name"], parse_incus_time(data.get("created_at")), bool(data.get("stateful")))


@dataclass(frozen=True)
class Instance:
    name: str
    status: str
    uuid: str | None
    generation: str | None
    created_at: datetime | None
    # Recorded by `labkit setup` or `labkit class create` before any snapshot (see baseline.py).
    baseline_uuid: str | None = None
    baseline_generation: str | None = None

    @property
    def running(self) -> bool:
        return self.status == "Running"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Instance:
        config = data.get("config") or {}
        return cls(data["name"], data.get("status", ""), config.get("volatile.uuid"),
                   config.get("volatile.uuid.generation"), parse_incus_time(data.get("created_at")),
                   config.get(BASELINE_UUID), config.get(BASELINE_GENERATION))

    @property
    def recorded_generation(self) -> str | None:
        """The generation a class recorded for this very instance, if any."""
        return self.baseline_generation if self.baseline_uuid and self.baseline_uuid == self.uuid else None


@dataclass(frozen=True)
class Observation:
    """State of one learner's instance at one moment; `instance` is None when it is gone."""

    container: str
    snapshot_name: str
    file_path: str
    instance: Instance | None
    snapshots: tuple[Snapshot, ...] = ()
    file_modified: datetime | None = None
    file_present: bool = False
    # Where else the file was found, looked for only when it is missing from its place.
    file_elsewhere: tuple[str, ...] = ()
    taken_at: datetime | None = None

    @property
    def snapshot(self) -> Snapshot | None:
        return next((s for s in self.snapshots if s.name == self.snapshot_name), None)

    @property
    def other_snapshots(self) -> tuple[Snapshot, ...]:
        return tuple(s for s in self.snapshots if s.name != self.snapshot_name)

    def to_json(self) -> dict[str, Any]:
        return {
            "container": self.container, "snapshot_name": self.snapshot_name, "file_path": self.file_path,
            "instance": None if self.instance is None else {
                "name": self.instance.name, "status": self.instance.status, "uuid": self.instance.uuid,
                "generation": self.instance.generation, "created_at": _iso(self.instance.created_at)},
            "snapshots": [{"name": s.name, "created_at": _iso(s.created_at), "stateful": s.stateful} for s in self.snapshots],
            "file_present": self.file_present, "file_modified": _iso(self.file_modified),
            "file_elsewhere": list(self.file_elsewhere), "taken_at": _iso(self.taken_at),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        inst = data.get("instance")
        return cls(
            container=data["container"], snapshot_name=data["snapshot_name"], file_path=data["file_path"],
            instance=None if inst is None else Instance(inst["name"], inst["status"], inst.get("uuid"),
                                                        inst.get("generation"), _dt(inst.get("created_at"))),
            snapshots=tuple(Snapshot(s["name"], _dt(s.get("created_at")), s.get("stateful", False)) for s in data.get("snapshots", [])),
            file_present=data.get("file_present", False), file_modified=_dt(data.get("file_modified")),
            file_elsewhere=tuple(data.get("file_elsewhere", [])), taken_at=_dt(data.get("taken_at")),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def candidate_places(file_path: str, homes: list[str]) -> list[str]:
    """Where a learner who missed /root most likely created the file."""
    base = file_path.rsplit("/", 1)[-1]
    places = [f"/{base}", f"/tmp/{base}"] + [f"/home/{home}/{base}" for home in sorted(homes)]
    return [p for p in places if p != file_path]


def build_observation(container: str, snapshot: str, file_path: str, instance: dict[str, Any] | None,
                      snapshots: list[dict[str, Any]], file: FileInfo | None, elsewhere: tuple[str, ...] = (),
                      taken_at: datetime | None = None) -> Observation:
    """Assemble an observation from API answers; pure, so a class view can feed it
    from one all-projects request instead of per-instance ones."""
    taken_at = taken_at or datetime.now(timezone.utc)
    if instance is None:
        return Observation(container, snapshot, file_path, None, taken_at=taken_at)
    return Observation(container, snapshot, file_path, Instance.from_api(instance),
                       tuple(Snapshot.from_api(s) for s in snapshots),
                       file_modified=file.modified if file else None, file_present=file is not None,
                       file_elsewhere=elsewhere, taken_at=taken_at)


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    # One small pool for the process: creating threads at every check costs more than it saves.
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="labkit-observe")
    return _POOL


def observe(client: IncusClient, container: str, snapshot: str, file_path: str,
            now: datetime | None = None) -> Observation:
    """Three concurrent requests (2–3 ms each); a learner who missed /root costs a second round."""
    pool = _pool()
    instance = pool.submit(client.instance_or_none, container)
    snapshots = pool.submit(client.snapshots, container)
    file = pool.submit(client.file_info, container, file_path)
    data = instance.result()
    if data is None:
        return build_observation(container, snapshot, file_path, None, [], None, taken_at=now)
    info = file.result()
    elsewhere = look_elsewhere(client, pool, container, file_path) if info is None else ()
    return build_observation(container, snapshot, file_path, data, snapshots.result(), info, elsewhere, now)


def look_elsewhere(client: IncusClient, pool: ThreadPoolExecutor, container: str, file_path: str) -> tuple[str, ...]:
    homes = pool.submit(client.list_directory, container, "/home")
    places = candidate_places(file_path, [])
    answers = [(p, pool.submit(client.file_info, container, p)) for p in places]
    places = candidate_places(file_path, homes.result())[len(places):]
    answers += [(p, pool.submit(client.file_info, container, p)) for p in places]
    return tuple(place for place, answer in answers if answer.result() is not None)
