"""The event recorder: one small background process per learner and lab instance.

Incus keeps no history of its lifecycle events, so a learner who works in a terminal
and checks once at the end would leave most steps unproven.  `labkit setup` starts this
recorder (recorder_service.py); it listens to the events of *one* project (never all
projects), appends those about its instance to the learner's journal, and, when the
chapter names a file in its params (`file`), looks at it (one HEAD, which never blocks,
docs/incus-facts.md §3b) when an exec or a shell in the instance ends and when the instance stops.
It reconnects when the daemon restarts and exits when its instance is deleted.

Run as `python -m labkit.app.recorder --config FILE` (or the hidden `labkit record`).  It
imports the websocket library, the journal and the standard library only: no httpx,
click or rich, so it stays small while it waits.
"""
from __future__ import annotations

import argparse
import fcntl
import http.client
import json
import os
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, unix_connect

from ..grading.contract import Retention
from ..grading.engine import EXEC_ENDED, FILE_SEEN
from ..grading.journal import Journal
from ..incus.events import journal_entry
from ..incus.timestamps import parse_incus_time, parse_modified
from ..labs import CHAPTERS
from .recorder_config import Config, State, files_for

# Moments after which the file is worth a look: the end of an exec or shell (where the
# learner creates it), a stop (just before a restore), a file pushed.
LOOK_AFTER = ("instance-shutdown", "instance-stopped", "instance-file-pushed", "instance-snapshot-created")
FINISHED = ("Success", "Failure", "Cancelled")
# As in classroom/operations.py (not imported: the recorder stays small): how long a task holds the
# looks back at most, and the tasks that never stop the file helper.
HOLD_SECONDS = 30.0
NOT_HOLDING = ("Executing command",)
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0
# A recorded command is the learner's text: kept short.
MAX_ARGS, MAX_ARG_CHARS = 16, 256


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("incus", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class InstanceGone(Exception):
    """The instance was deleted: the recorder's work is over."""


class Stopped(BaseException):
    """SIGTERM or SIGINT: raised from the signal handler, so a blocked read ends at once."""


def _retention(lab: str) -> Retention:
    """The chapter's journal retention (its checks and their I/O are not loaded with it); a lab this
    labkit no longer knows keeps the default bound."""
    return CHAPTERS[lab].retention if lab in CHAPTERS else Retention()


class Recorder:
    def __init__(self, config: Config, state_path: Path, log=sys.stderr):
        self.config, self.state_path, self.log = config, state_path, log
        self.journals = [(w, Journal.of_params(Path(w.journal), w.lab, config.project, w.params, _retention(w.lab)))
                         for w in config.watches]
        self.state = State(os.getpid(), _now().isoformat())
        self._ws: ClientConnection | None = None
        self.instance_deleted = False
        self._last_seen: dict[str, tuple[bool, str | None]] = {}
        # Tasks (restore, stop, snapshot…) running on the instance, and those that ended: Incus waits
        # for the instance's file helper to be gone before such a task goes on, and a file request
        # in that moment starts a new one the task then waits 10-15 s for (classroom/operations.py).
        self._tasks: dict[str, float] = {}  # id → when first seen; bounded like the class watcher's
        self._ended: deque[str] = deque(maxlen=256)
        self._look_wanted = False

    # -- the loop ---------------------------------------------------------
    def run(self) -> int:
        into = ", ".join(w.journal for w in self.config.watches)
        self._say(f"recording {self.config.project}/{self.config.container} into {into}")
        self._save_state()
        try:
            return self._loop()
        except Stopped:
            self._say("stopped")
            return 0

    def _loop(self) -> int:
        backoff = BACKOFF_FIRST
        while True:
            try:
                self._ws = self._connect()
            except (OSError, WebSocketException) as exc:
                self._disconnected(f"daemon not reachable ({exc}); next try in {backoff:.1f} s")
                time.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_FIRST
            try:
                with self._ws:
                    # Whatever happened while we were away (a deletion among it) is seen here.
                    if not self._instance_exists():
                        raise InstanceGone()
                    self.state.connected = True
                    self._save_state()
                    self._say("listening")
                    self._tasks.clear()  # an end we missed while away must not hold the looks back
                    self._look()
                    for raw in self._ws:
                        self._handle(json.loads(raw))
            except InstanceGone:
                self._say("the instance was deleted: stopping")
                self.instance_deleted = True
                return 0
            except (OSError, WebSocketException, ValueError) as exc:
                self._disconnected(f"connection lost ({exc or type(exc).__name__}); reconnecting")
            else:
                self._disconnected("the daemon closed the event stream; reconnecting")
            # The daemon is restarting: wait a moment before dialling again.
            time.sleep(backoff)

    def stop(self, *_: object) -> None:
        raise Stopped()

    def _connect(self) -> ClientConnection:
        query = f"type=lifecycle,operation&project={quote(self.config.project, safe='')}"
        uri = f"ws://incus/1.0/events?{query}"
        try:
            # No keepalive pings: on a unix socket a dead daemon closes the stream anyway, and an
            # idle recorder should not wake up at all.  (websockets < 15 has no pings to turn off.)
            return unix_connect(self.config.socket, uri, open_timeout=5, ping_interval=None)
        except TypeError:
            return unix_connect(self.config.socket, uri, open_timeout=5)

    def _handle(self, event: dict[str, Any]) -> None:
        if event.get("type") == "operation":
            meta = event.get("metadata") or {}
            if not self._about_us(meta):
                return
            if meta.get("class") == "websocket" and meta.get("status") in FINISHED:
                self._exec_ended(event, meta)
                self._look()  # an exec or a shell has just ended
            elif meta.get("class") == "task" and meta.get("id") and meta.get("description") not in NOT_HOLDING:
                self._follow_task(meta["id"], meta.get("status") in FINISHED)
            return
        entry = journal_entry(event, self.config.container, self.config.project)
        if entry is not None:
            self._record(entry, "events")
            if entry["action"] == "instance-deleted":
                raise InstanceGone()
        action = (event.get("metadata") or {}).get("action")
        if action in LOOK_AFTER and self._source_is_us(event):
            self._look()

    def _about_us(self, meta: dict[str, Any]) -> bool:
        wanted = f"/1.0/instances/{self.config.container}"
        return any(unquote(urlsplit(r).path) == wanted for r in (meta.get("resources") or {}).get("instances") or [])

    def _source_is_us(self, event: dict[str, Any]) -> bool:
        parts = unquote(urlsplit((event.get("metadata") or {}).get("source", "")).path).split("/")
        return len(parts) >= 4 and parts[2] == "instances" and parts[3] == self.config.container

    # -- the file ---------------------------------------------------------
    def _exec_ended(self, event: dict[str, Any], meta: dict[str, Any]) -> None:
        """A command that named a lab's file, as the daemon reported its end: its words and exit code,
        at the daemon's time.  The look that follows may come too late on a busy machine (the next
        command, a stop then a restore, may already have run); this record does not."""
        result = meta.get("metadata") or {}
        command = result.get("command")
        if (meta.get("status") != "Success" or not isinstance(command, list)
                or not isinstance(result.get("return"), int)):
            return
        words = [str(w)[:MAX_ARG_CHARS] for w in command[:MAX_ARGS]]
        when = parse_incus_time(event.get("timestamp")) or _now()
        for path in self.config.files:
            if any(path.rsplit("/", 1)[-1] in w for w in words):
                self._record({"action": EXEC_ENDED, "time": when.isoformat(),
                              "context": {"path": path, "command": words, "return": result["return"]}}, "events",
                             labs={w.lab for w in self.config.watches if w.file == path})

    def _follow_task(self, task: str, ended: bool) -> None:
        if ended:
            self._ended.append(task)
            self._tasks.pop(task, None)
            if self._look_wanted:
                self._look()  # what was asked for during the task (if no other one still runs)
        elif task not in self._ended:  # a task's “Pending” event may come after its end
            self._tasks.setdefault(task, time.monotonic())

    def _look(self) -> None:
        """One HEAD on each lab's file; recorded when its presence or mtime changed.  Not while a
        task runs on the instance (for HOLD_SECONDS at most): then once it has ended.  So a restore
        of a *running* instance is not looked at in between: its stop is seen after the restore."""
        now = time.monotonic()
        self._tasks = {task: since for task, since in self._tasks.items() if now - since < HOLD_SECONDS}
        self._look_wanted = bool(self._tasks)
        if self._look_wanted:
            return
        for path in self.config.files:
            self._look_at(path)

    def _look_at(self, path: str) -> None:
        try:
            answer = self._request("HEAD", f"/1.0/instances/{quote(self.config.container)}/files", {"path": path})
        except OSError:
            return
        status, headers = answer
        if status not in (200, 404):
            return
        modified = parse_modified(headers.get("X-Incus-Modified")) if status == 200 else None
        seen = (status == 200, modified.isoformat() if modified else None)
        if seen == self._last_seen.get(path):
            return
        self._last_seen[path] = seen
        self._record({"action": FILE_SEEN, "time": _now().isoformat(),
                      "context": {"path": path, "present": seen[0], "modified": seen[1]}}, "sightings",
                     labs={w.lab for w in self.config.watches if w.file == path})

    def _instance_exists(self) -> bool:
        status, _ = self._request("GET", f"/1.0/instances/{quote(self.config.container)}", {})
        return status != 404

    def _request(self, method: str, path: str, params: dict[str, str]) -> tuple[int, http.client.HTTPMessage]:
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in {**params, "project": self.config.project}.items())
        conn = _UnixHTTP(self.config.socket, timeout=10)
        try:
            conn.request(method, f"{path}?{query}")
            response = conn.getresponse()
            response.read()
            return response.status, response.headers
        finally:
            conn.close()

    # -- journal and state ------------------------------------------------
    def _record(self, entry: dict[str, Any], counter: str, labs: set[str] | None = None) -> None:
        """Into the journal of every lab on this instance (of `labs` only, when given)."""
        recorded = False
        for watch, journal in self.journals:
            if labs is not None and watch.lab not in labs:
                continue
            # Journal.update re-reads the file: after a reset the entry goes into the new attempt.
            recorded = journal.record_events([entry]) or recorded
            for warning in journal.warnings:
                self._say(f"journal {watch.lab}: {warning.render('en')}")
            journal.warnings.clear()
        if recorded:
            setattr(self.state, counter, getattr(self.state, counter) + 1)
            self.state.last_event_at = entry["time"]
            self._save_state()

    def _disconnected(self, why: str) -> None:
        if self.state.connected:
            self.state.connected = False
            self._save_state()
        self._say(why)

    def _save_state(self) -> None:
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self.state)), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def _say(self, text: str) -> None:
        print(f"{_now():%Y-%m-%dT%H:%M:%SZ} {text}", file=self.log, flush=True)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _daemonize(log_path: Path) -> None:
    """Double fork: the recorder belongs to no terminal and is nobody's zombie.

    The first parent returns at once (recorder_service waits for the state file)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.app.recorder", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--background", action="store_true", help="detach (double fork) and log to the log file")
    args = parser.parse_args(argv)
    config_path = args.config.resolve()
    try:
        config = Config.read(config_path)
    except (OSError, ValueError, TypeError) as exc:
        # Exit 0: a systemd unit whose instance is gone must not be restarted in a loop.
        print(f"no usable recorder configuration at {config_path} ({exc}): nothing to record", file=sys.stderr)
        return 0
    pid_path, state_path, log_path = files_for(config_path)
    if args.background:
        _daemonize(log_path)
    # The lock, not the PID file's content, makes the recorder unique: two setups at once
    # start one recorder.  It is released by the kernel however the process ends.
    lock = open(pid_path, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("another recorder holds this instance's PID file: nothing to do", file=sys.stderr)
        return 0
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    recorder = Recorder(config, state_path, sys.stderr)
    signal.signal(signal.SIGTERM, recorder.stop)
    signal.signal(signal.SIGINT, recorder.stop)
    try:
        return recorder.run()
    finally:
        state_path.unlink(missing_ok=True)
        pid_path.unlink(missing_ok=True)
        lock.close()
        if recorder.instance_deleted:
            _forget(config, config_path)


def _forget(config: Config, config_path: Path) -> None:
    """The instance is gone: nothing to start at the next boot.  (The log stays, for the curious.)"""
    config_path.unlink(missing_ok=True)
    from . import recorder_service  # only now: it brings the HTTP client's module along

    recorder_service.disable_unit(config.project, config.container)


if __name__ == "__main__":
    sys.exit(main())
