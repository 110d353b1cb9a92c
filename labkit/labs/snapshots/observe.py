"""One look at Incus: everything the checks need, gathered in a handful of requests.

Checks never talk to Incus; they read an `Observation`.  That keeps them pure,
fast, and testable on observations recorded from a real daemon.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...errors import InstanceNotFound, LabkitError
from ...i18n import M, Message
from ...incus.client import FileInfo, IncusClient
from ...incus.timestamps import parse_incus_time
from ...pools import concurrently, named_pool
from ..baseline import BASELINE_GENERATION, BASELINE_UUID, record_baseline

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor


@dataclass(frozen=True)
class Snapshot:
    """One snapshot as Incus lists it."""

    name: str
    created_at: datetime | None
    stateful: bool

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Snapshot:
        return cls(data["name"], parse_incus_time(data.get("created_at")), bool(data.get("stateful")))


@dataclass(frozen=True)
class Instance:
    """The instance as Incus describes it, with the baseline a class or setup recorded."""

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
    # The file's time to the nanosecond, read inside the instance only when the file and the
    # snapshot date from the same second (the files API gives whole seconds): see fine_file_time.
    file_modified_fine: datetime | None = None
    # Why this instance could not be looked at (a class view goes on without it).
    unobserved: Message | None = None

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
            "snapshots": [{"name": s.name, "created_at": _iso(s.created_at), "stateful": s.stateful}
                          for s in self.snapshots],
            "file_present": self.file_present, "file_modified": _iso(self.file_modified),
            "file_elsewhere": list(self.file_elsewhere), "taken_at": _iso(self.taken_at),
            "file_modified_fine": _iso(self.file_modified_fine),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        inst = data.get("instance")
        return cls(
            container=data["container"], snapshot_name=data["snapshot_name"], file_path=data["file_path"],
            instance=None if inst is None else Instance(inst["name"], inst["status"], inst.get("uuid"),
                                                        inst.get("generation"), _dt(inst.get("created_at"))),
            snapshots=tuple(Snapshot(s["name"], _dt(s.get("created_at")), s.get("stateful", False))
                            for s in data.get("snapshots", [])),
            file_present=data.get("file_present", False), file_modified=_dt(data.get("file_modified")),
            file_elsewhere=tuple(data.get("file_elsewhere", [])), taken_at=_dt(data.get("taken_at")),
            file_modified_fine=_dt(data.get("file_modified_fine")),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# Where a learner who missed /root most likely created the file. A fixed handful, asked with
# HEAD only: the learner owns /home, and a listing (a GET) of a FIFO there wedges the instance's
# file helper, of a huge file reads it whole, of 20 000 folders costs 20 000 requests (docs/incus-facts.md §3b).
ELSEWHERE = ("/", "/tmp", "/home/ubuntu", "/home/debian", "/home/user")


def candidate_places(file_path: str) -> list[str]:
    base = file_path.rsplit("/", 1)[-1]
    places = [f"{folder.rstrip('/')}/{base}" for folder in ELSEWHERE]
    return [p for p in places if p != file_path]


def build_observation(container: str, snapshot: str, file_path: str, instance: dict[str, Any] | None,
                      snapshots: list[dict[str, Any]], file: FileInfo | None, elsewhere: tuple[str, ...] = (),
                      taken_at: datetime | None = None, fine: datetime | None = None) -> Observation:
    """Assemble an observation from API answers; pure, so a class view can feed it
    from one all-projects request instead of per-instance ones."""
    taken_at = taken_at or datetime.now(timezone.utc)
    if instance is None:
        return Observation(container, snapshot, file_path, None, taken_at=taken_at)
    return Observation(container, snapshot, file_path, Instance.from_api(instance),
                       tuple(Snapshot.from_api(s) for s in snapshots),
                       file_modified=file.modified if file else None, file_present=file is not None,
                       file_elsewhere=elsewhere, taken_at=taken_at, file_modified_fine=fine)


def _pool() -> ThreadPoolExecutor:
    # One small pool for the process: creating threads at every check costs more than it saves.
    return named_pool("observe", 5)


def observe(client: IncusClient, container: str, snapshot: str, file_path: str,
            now: datetime | None = None) -> Observation:
    """Three concurrent requests (2–3 ms each); a learner who missed /root costs a second round
    of a few HEADs, and a file made in the same second as the snapshot one short exec."""
    instance, file, snapshots = concurrently(lambda: client.instance_or_none(container),
                                             lambda: client.file_info(container, file_path),
                                             lambda: client.snapshots(container))
    data = instance.result()
    if data is None:
        return build_observation(container, snapshot, file_path, None, [], None, taken_at=now)
    info, listed = file.result(), snapshots.result()
    elsewhere = look_elsewhere(client, _pool(), container, file_path) if info is None else ()
    fine = fine_file_time(client, container, file_path) if same_second(data, listed, info, snapshot) else None
    return build_observation(container, snapshot, file_path, data, listed, info, elsewhere, now, fine)


def look_elsewhere(client: IncusClient, pool: ThreadPoolExecutor, container: str, file_path: str) -> tuple[str, ...]:
    """A few HEADs at fixed places, whatever the learner made of them; an error is “not there”."""
    def there(place: str) -> bool:
        try:
            return client.file_info(container, place) is not None
        except LabkitError:  # /home as a FIFO or a file: ENOTDIR comes back as a 500
            return False
    places = candidate_places(file_path)
    return tuple(place for place, found in zip(places, pool.map(there, places)) if found)


def same_second(instance: dict[str, Any] | None, snapshots: list[dict[str, Any]], file: FileInfo | None,
                snapshot: str) -> bool:
    """Whether the file and the snapshot share a second, the one case whole seconds cannot order,
    and the instance runs, so that the file's finer time can be asked for inside it."""
    if instance is None or instance.get("status") != "Running" or file is None or file.modified is None:
        return False
    created = next((parse_incus_time(s.get("created_at")) for s in snapshots if s.get("name") == snapshot), None)
    return created is not None and int(file.modified.timestamp()) == int(created.timestamp())


FINE_TIMEOUT = 3.0


def fine_file_time(client: IncusClient, container: str, path: str, timeout: float = FINE_TIMEOUT) -> datetime | None:
    """The file's mtime to the nanosecond, from `stat` run inside the instance (exec, output recorded),
    or None when it cannot be had within `timeout` seconds. Asked only in a same-second tie.

    The output is read 64 bytes at most and its log deleted: a learner owns the instance's `stat`."""
    base = f"/1.0/instances/{quote(container)}"
    command = ["timeout", "2", "stat", "-c", "%.9Y", "--", path]
    started = time.monotonic()
    try:
        op = client.request("POST", f"{base}/exec", wait=False, timeout=timeout, json={
            "command": command, "wait-for-websocket": False, "interactive": False, "record-output": True})
        done = client.wait(f"/1.0/operations/{op['id']}", timeout=timeout)
    except (LabkitError, KeyError, TypeError):
        return None
    result = done.get("metadata") or {}
    logs = list((result.get("output") or {}).values())
    try:
        if result.get("return") != 0 or not logs:
            return None
        left = max(0.5, timeout - (time.monotonic() - started))
        text = client.read_head(logs[0], 64, timeout=left)
        return datetime.fromtimestamp(float(text.strip().split()[0]), timezone.utc)
    except (LabkitError, ValueError, IndexError, OverflowError, OSError):
        return None
    finally:
        for log in logs:
            try:
                client.raw("DELETE", log, timeout=timeout)
            except LabkitError:
                pass


# -- the chapter's hooks: what the session calls ------------------------------------------
def observe_chapter(access: Any, params: dict[str, str]) -> Observation:
    return observe(access.main, params["container"], params["snapshot"], params["file"])


def reset_chapter(access: Any, params: dict[str, str]) -> None:
    """Back to the chapter's start: instance running, no lab snapshot, no file."""
    # What only a reset uses, not loaded with every check.
    from ...incus import instances
    from ...keys import CLASS_KEY

    client, name, snapshot, path = access.main, params["container"], params["snapshot"], params["file"]
    data = client.instance_or_none(name)
    if data is None:
        raise InstanceNotFound(M("reset.no_instance", "There is no instance “{container}” to reset. Create it with "
                                                      "“labkit setup”.", container=name))
    if any(s["name"] == snapshot for s in client.snapshots(name)):
        client.request("DELETE", f"/1.0/instances/{quote(name)}/snapshots/{quote(snapshot, safe='')}")
    if client.file_info(name, path) is not None:
        client.request("DELETE", f"/1.0/instances/{quote(name)}/files", params={"path": path})
    if data.get("status") != "Running":
        instances.change_state(client, name, "start")
    config = client.instance(name).get("config") or {}
    if BASELINE_UUID in config and CLASS_KEY not in config:
        # Recorded by setup: the new attempt starts from the instance as it is now. A class's keys
        # stay as the class wrote them: its instructor holds the same values and flags any change.
        record_baseline(client, name)
