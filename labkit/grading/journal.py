"""The learner's journal: baseline, checks, hints and events of one attempt, on disk.

Several processes write it at once (a notebook's listener, `labkit watch`, `labkit
check`), so every change is a locked read-modify-write followed by an atomic rename.
A journal that cannot be read or written never stops the grading: we warn, keep the
bad file aside, and go on in memory.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..i18n import M, Message
from ..paths import state_dir
from .atomic_file import write_atomically
from .contract import INSTANCE_PARAM, SNAPSHOT_PARAM, Retention
from .engine import Baseline, Event, History, Result, Status
from .event_bounds import bounded, event_key

if TYPE_CHECKING:
    from .contract import InstanceIdentity

FORMAT = 1
# Per step, the newest checks (the latest status is what is read; counts live in "attempts").
KEPT_PER_STEP = 20


@dataclass(frozen=True)
class CheckRecord:
    """One graded step as the journal keeps it."""

    step: str
    time: datetime
    status: Status
    diagnosis: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One attempt as the journal holds it, typed: what every reader outside this module sees.

    The file's schema (FORMAT, its keys) is read in `attempt_of` and written by `Journal` only."""

    lab: str
    project: str
    container: str
    number: int
    started_at: datetime
    baseline: Baseline | None
    checks: tuple[CheckRecord, ...]
    first_pass: dict[str, datetime]
    attempts: dict[str, int]
    hints: dict[str, int]
    events: tuple[Event, ...]
    # When a class view first saw something of this attempt (e.g. "started"): name -> time.
    marks: dict[str, datetime] = field(default_factory=dict)

    def latest(self) -> dict[str, Status]:
        """Each step's latest status."""
        return {c.step: c.status for c in self.checks}


def attempt_of(data: dict[str, Any]) -> Attempt:
    base = data.get("baseline")
    baseline = None if base is None else Baseline(base.get("uuid"), base.get("generation"),
                                                  datetime.fromisoformat(base["recorded_at"]))
    return Attempt(
        lab=data.get("lab", ""), project=data.get("project", ""), container=data.get("container", ""),
        number=int(data.get("attempt", 1)), started_at=datetime.fromisoformat(data["started_at"]), baseline=baseline,
        checks=tuple(CheckRecord(c["step"], datetime.fromisoformat(c["time"]), Status(c["status"]), c.get("diagnosis"))
                     for c in data.get("checks", [])),
        first_pass={k: datetime.fromisoformat(v) for k, v in (data.get("first_pass") or {}).items()},
        attempts=dict(data.get("attempts") or {}), hints=dict(data.get("hints") or {}),
        events=tuple(Event(e["action"], datetime.fromisoformat(e["time"]), e.get("context") or {})
                     for e in data.get("events", [])),
        marks={k: datetime.fromisoformat(v) for k, v in (data.get("marks") or {}).items()})


def default_path(lab: str, project: str, container: str, environ: dict[str, str] | None = None) -> Path:
    return state_dir(environ) / "journals" / f"{lab}--{project}--{container}.json"


def now() -> datetime:
    return datetime.now(timezone.utc)


def empty(lab: str, project: str, container: str, snapshot: str, attempt: int = 1) -> dict[str, Any]:
    return {"format": FORMAT, "lab": lab, "project": project, "container": container, "snapshot": snapshot,
            "attempt": attempt, "started_at": now().isoformat(), "baseline": None, "checks": [],
            "first_pass": {}, "attempts": {}, "hints": {}, "events": []}


class Journal:
    def __init__(self, path: Path | None, lab: str, project: str, container: str, snapshot: str,
                 retention: Retention = Retention()):
        self.path = path
        self.identity = (lab, project, container, snapshot)
        # The chapter's rule for what stays when the events must be bounded (contract.Retention).
        self.retention = retention
        self.warnings: list[Message] = []
        # The notebook's listener thread writes events while the learner's cell checks.
        self._mutex = threading.RLock()
        self.data = self._read_disk() or empty(*self.identity)

    @classmethod
    def of_params(cls, path: Path | None, lab: str, project: str, params: dict[str, str],
                  retention: Retention = Retention()) -> Journal:
        """The journal of a chapter's attempt, from the chapter's params: the session and the event
        recorder both open it this way, so they write the same file with the same identity."""
        return cls(path, lab, project, params[INSTANCE_PARAM], params.get(SNAPSHOT_PARAM, ""), retention)

    # -- disk -------------------------------------------------------------
    def _read_disk(self) -> dict[str, Any] | None:
        """The journal on disk, or None when there is none or it cannot be used."""
        if self.path is None:
            return None
        try:
            # Inside the try: a folder we may not enter (another user's state) raises, it does not say "absent".
            if not self.path.exists():
                return None
            if not self.path.is_file():
                raise IsADirectoryError(errno.EISDIR, "not a regular file")
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            # Not ours to move (a folder, no permission): leave it and work in memory.
            self._give_up(exc)
            return None
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("unknown journal format")
            return data
        except ValueError as exc:
            self._set_aside(exc)
            return None

    def _set_aside(self, exc: Exception) -> None:
        assert self.path is not None
        aside = self.path.with_name(f"{self.path.name}.corrupt-{now():%Y%m%dT%H%M%S}")
        try:
            os.replace(self.path, aside)
            where = str(aside)
        except OSError:
            where = str(self.path)
            self.path = None  # never overwrite a file we could not move aside
        self.warnings.append(M("journal.corrupt", "Your journal could not be read ({detail}). It was kept "
                                                  "as {aside} and a new one was started; earlier progress "
                                                  "of this attempt is not counted.", detail=str(exc), aside=where))

    def _give_up(self, exc: OSError) -> None:
        self.warnings.append(M("journal.unwritable", "Your progress could not be saved to {path} ({detail}). "
                                                     "Grading goes on, but this session's results will not "
                                                     "be remembered; use --journal to choose another file.",
                               path=str(self.path), detail=exc.strerror or str(exc)))
        self.path = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _adopt(self, disk: dict[str, Any] | None) -> None:
        # Another process may have written since, or started a newer attempt (a reset):
        # never write an older attempt over a newer one.
        if disk is not None and int(disk.get("attempt", 1)) >= self.attempt:
            self.data = disk

    def refresh(self) -> None:
        """Take what other processes (a `labkit watch`, a reset) wrote since."""
        with self._mutex:
            if self.path is not None:
                self._adopt(self._read_disk())

    def update(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Apply a change to the freshest copy on disk, then write it atomically."""
        with self._mutex:
            if self.path is None:
                change(self.data)
                return
            applied = False
            try:
                with self._locked():
                    self._adopt(self._read_disk())
                    change(self.data)
                    applied = True
                    if self.path is not None:
                        write_atomically(self.path, self.data)
            except OSError as exc:
                self._give_up(exc)
                if not applied:
                    change(self.data)

    def archive(self) -> Path | None:
        """Close this attempt: keep its file under a numbered name, start the next attempt."""
        with self._mutex:
            if self.path is not None:
                try:
                    with self._locked():
                        self._adopt(self._read_disk())
                        target = self._archive_name()
                        if self.path is not None and self.path.exists():
                            os.replace(self.path, target)
                        self.data = empty(*self.identity, attempt=self.attempt + 1)
                        if self.path is not None:
                            write_atomically(self.path, self.data)
                            return target
                except OSError as exc:
                    self._give_up(exc)
            self.data = empty(*self.identity, attempt=self.attempt + 1)
            return None

    def _archive_name(self) -> Path:
        """attempt-N.json, or a free variant of it: an archive is never overwritten."""
        assert self.path is not None
        base = f"{self.path.stem}.attempt-{self.attempt}"
        target, n = self.path.with_name(f"{base}.json"), 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{base}-{n}.json")
        return target

    # -- content ----------------------------------------------------------
    @property
    def attempt(self) -> int:
        return int(self.data.get("attempt", 1))

    def ensure_baseline(self, instance: InstanceIdentity | None) -> bool:
        """Record the instance's identity once; a different instance starts a new attempt."""
        if instance is None:
            return False
        self.refresh()
        # Setup and classes record the baseline in the instance (baseline.py): it wins, so a first
        # check made after the restore still proves it, and an instructor's view agrees.
        recorded = instance.recorded_generation
        base = self.data.get("baseline")
        if base is not None and base.get("uuid") == instance.uuid and recorded in (None, base.get("generation")):
            return False
        if base is not None:
            # The instance was recreated under the same name, or the attempt was reset: a new attempt.
            self.archive()

        def record(data: dict[str, Any]) -> None:
            if data.get("baseline") is None:
                data["baseline"] = {"uuid": instance.uuid, "generation": recorded or instance.generation,
                                    "recorded_at": now().isoformat()}
        self.update(record)
        return True

    def record_results(self, results: list[Result]) -> None:
        when = now().isoformat()

        def record(data: dict[str, Any]) -> None:
            for r in results:
                data["checks"].append({"step": r.step, "time": when, "status": r.status.value,
                                       "diagnosis": r.diagnosis})
                data["attempts"][r.step] = data["attempts"].get(r.step, 0) + 1
                if r.status is Status.PASSED:
                    data["first_pass"].setdefault(r.step, when)
            steps = {r.step for r in results}
            for step in steps:  # a status flipping at every stop and start must not grow the file for ever
                mine = [i for i, c in enumerate(data["checks"]) if c["step"] == step]
                if len(mine) > KEPT_PER_STEP:
                    dropped = set(mine[:-KEPT_PER_STEP])
                    data["checks"] = [c for i, c in enumerate(data["checks"]) if i not in dropped]
        self.update(record)

    def record_hint(self, step: str) -> int:
        """Count one more hint asked for this step; return how many were asked."""
        def record(data: dict[str, Any]) -> None:
            data["hints"][step] = data["hints"].get(step, 0) + 1
        self.update(record)
        return int(self.data["hints"][step])

    def record_mark(self, name: str) -> datetime:
        """The first time `name` was seen in this attempt (recorded now if never before)."""
        def record(data: dict[str, Any]) -> None:
            data.setdefault("marks", {}).setdefault(name, now().isoformat())
        self.update(record)
        return datetime.fromisoformat(self.data["marks"][name])

    def record_events(self, events: list[dict[str, Any]]) -> int:
        """Add events to the current attempt; return how many were new.

        Several listeners may report the same event (the background recorder, a notebook's
        `Lab`, `labkit watch`): one lifecycle event has one (action, time, context), so it is
        kept once.  Events older than a reset belong to the attempt the reset closed."""
        if not events:
            return 0
        added = 0

        def record(data: dict[str, Any]) -> None:
            nonlocal added
            added = 0
            seen = {event_key(e) for e in data["events"]}
            start = _attempt_start(data)
            for event in events:
                key = event_key(event)
                if key in seen or (start is not None and datetime.fromisoformat(event["time"]) < start):
                    continue
                seen.add(key)
                data["events"].append(event)
                added += 1
            if added:
                params = {INSTANCE_PARAM: self.identity[2], SNAPSHOT_PARAM: self.identity[3]}
                data["events"] = bounded(data["events"], params, self.retention)
        self.update(record)
        return added

    def attempt_view(self) -> Attempt:
        with self._mutex:
            return attempt_of(self.data)

    def history(self) -> History:
        view = self.attempt_view()
        return History(frozenset(view.first_pass), view.baseline, view.events)


def _attempt_start(data: dict[str, Any]) -> datetime | None:
    """When a reset (or a recreated instance) opened this attempt; None for the first one,
    whose journal is created by whoever writes first, often just after the first event."""
    if int(data.get("attempt", 1)) <= 1 or not data.get("started_at"):
        return None
    return datetime.fromisoformat(data["started_at"])
