"""What the event recorder (recorder.py) is told and what it tells: its configuration, written by
recorder_service.py, and its state, read by `labkit doctor`.  Standard library only: the recorder
must stay small while it waits."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..grading.contract import INSTANCE_PARAM


@dataclass(frozen=True)
class Watch:
    """One lab on the instance: its chapter's params and the journal its events go into."""

    lab: str
    # The chapter's params, as the session has them (the instance is params[INSTANCE_PARAM]).
    params: dict[str, str]
    journal: str

    @property
    def file(self) -> str | None:
        """The file the chapter asks the learner to create, if it has one."""
        return self.params.get("file") or None


@dataclass(frozen=True)
class Config:
    """Written by recorder_service.py next to the PID file; the process reads nothing else.

    One recorder per instance, however many labs use it: a learner who set up the first lab and
    then the second on the same `ubuntu-test` keeps both journals fed (before, the lab set up
    last took the recorder over and the other journal went quiet)."""

    socket: str
    project: str
    container: str
    watches: tuple[Watch, ...]

    @classmethod
    def read(cls, path: Path) -> Config:
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            if "watches" not in data:  # written by a labkit of one lab per recorder
                data = {"socket": data["socket"], "project": data["project"],
                        "container": data["params"][INSTANCE_PARAM],
                        "watches": [{"lab": data["lab"], "params": data["params"], "journal": data["journal"]}]}
            watches = tuple(Watch(str(w["lab"]), dict(w["params"]), str(w["journal"])) for w in data["watches"])
            config = cls(str(data["socket"]), str(data["project"]), str(data["container"]), watches)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a recorder configuration ({exc!r})") from None
        if not watches or any(w.params.get(INSTANCE_PARAM) != config.container for w in watches):
            raise ValueError("the params name another container, or none")
        return config

    def with_watch(self, watch: Watch) -> Config:
        """This configuration with `watch` added, or in place of the same lab's."""
        kept = tuple(w for w in self.watches if w.lab != watch.lab)
        return Config(self.socket, self.project, self.container, tuple(sorted((*kept, watch), key=lambda w: w.lab)))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @property
    def files(self) -> tuple[str, ...]:
        """The files the labs ask the learner to create, each once."""
        return tuple(sorted({w.file for w in self.watches if w.file}))


@dataclass
class State:
    """What `labkit doctor` shows: written at start, at each (re)connection and each record."""

    pid: int
    started_at: str
    connected: bool = False
    events: int = 0
    sightings: int = 0
    last_event_at: str | None = None


def files_for(config_path: Path) -> tuple[Path, Path, Path]:
    """PID file, state file and log, beside the configuration."""
    stem = config_path.with_suffix("")
    return stem.with_suffix(".pid"), stem.with_suffix(".state.json"), stem.with_suffix(".log")
