"""Which learners have an Incus task running in their project, followed from the event stream.

Why the class watcher needs it (verified with Incus 6.0.4, docs/second-lab-facts.md § file helper):
before a restore, a start, a stop or a snapshot, Incus stops the instance's file helper (`incusd
forkfile`) and waits for it to be gone.  A file request arriving in that moment starts a new helper,
which the task then waits for; and a helper only leaves after 10 to 15 s without requests.  The
watcher's looks every few seconds kept it alive: a learner's `incus snapshot restore` hung for as
long as the instructor watched.  So the watcher does not look at a learner while a task runs in
their project, and looks when it ends.

A hold is bounded (HOLD_SECONDS) from the moment it began: a task that never ends (an end event
lost), or a learner starting a new task every few seconds, must not freeze their row; after that,
looking again costs a task at most one helper's 15 s.  Commands run inside the instance (“Executing command”, also the
watcher's own short execs) never stop the helper and hold nobody.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

FINISHED = ("Success", "Failure", "Cancelled")
HOLD_SECONDS = 30.0
NOT_HOLDING = ("Executing command",)


class RunningTasks:
    """Updated by the event thread, read by the loop that refreshes the view."""

    def __init__(self, projects: dict[str, str], clock=time.monotonic):
        self._projects = projects  # project → learner
        self._running: dict[str, dict[str, float]] = {}  # learner → task id → when it was first seen
        self._held_since: dict[str, float] = {}  # learner → when their tasks began to run without a break
        # Incus sends a task's “Pending” event after its “Running” one, sometimes after its end:
        # an ended task is remembered so that a late event does not hold the learner again.
        self._ended: deque[str] = deque(maxlen=1024)
        self._lock = threading.Lock()
        self._clock = clock

    def update(self, event: dict[str, Any]) -> str | None:
        """Follow one operation event; the learner whose task has just ended, if one has."""
        meta = event.get("metadata") or {}
        learner = self._projects.get(event.get("project") or "")
        if (event.get("type") != "operation" or learner is None or meta.get("class") != "task" or not meta.get("id")
                or meta.get("description") in NOT_HOLDING):
            return None
        with self._lock:
            tasks = self._running.setdefault(learner, {})
            if meta.get("status") in FINISHED:
                self._ended.append(meta["id"])
                ended = tasks.pop(meta["id"], None) is not None
                if not tasks:
                    self._held_since.pop(learner, None)  # a break: the next task holds afresh
                return learner if ended else None
            if meta["id"] not in self._ended:
                now = self._clock()
                if not tasks:
                    self._held_since.setdefault(learner, now)
                tasks.setdefault(meta["id"], now)
        return None

    def busy(self) -> set[str]:
        """The learners to leave alone now: tasks of theirs have run, without a break, for less
        than HOLD_SECONDS."""
        now = self._clock()
        with self._lock:
            for learner, tasks in self._running.items():  # past their hold, tasks are forgotten
                self._running[learner] = {task: since for task, since in tasks.items() if now - since < HOLD_SECONDS}
                if not self._running[learner]:
                    self._held_since.pop(learner, None)
            return {learner for learner, tasks in self._running.items()
                    if tasks and now - self._held_since.get(learner, now) < HOLD_SECONDS}
