"""Which learners have an Incus task running in their project, followed from the event stream.

Why the class watcher needs it (verified with Incus 6.0.4, docs/second-lab-facts.md § file helper):
before a restore, a start, a stop or a snapshot, Incus stops the instance's file helper (`incusd
forkfile`) and waits for it to be gone.  A file request arriving in that moment starts a new helper,
which the task then waits for; and a helper only leaves after 10 to 15 s without requests.  The
watcher's looks every few seconds kept it alive: a learner's `incus snapshot restore` hung for as
long as the instructor watched.  So the watcher leaves a learner's files alone while a task runs in
their project, and looks again when it ends.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any

FINISHED = ("Success", "Failure", "Cancelled")


class RunningTasks:
    """Updated by the event thread, read by the loop that refreshes the view."""

    def __init__(self, projects: dict[str, str]):
        self._projects = projects  # project → learner
        self._running: dict[str, set[str]] = {}
        # Incus sends a task's “Pending” event after its “Running” one, sometimes after its end:
        # an ended task is remembered so that a late event does not hold the learner for ever.
        self._ended: deque[str] = deque(maxlen=1024)
        self._lock = threading.Lock()

    def update(self, event: dict[str, Any]) -> str | None:
        """Follow one operation event; the learner whose task has just ended, if one has."""
        meta = event.get("metadata") or {}
        learner = self._projects.get(event.get("project") or "")
        if event.get("type") != "operation" or learner is None or meta.get("class") != "task" or not meta.get("id"):
            return None  # exec and console sessions (class websocket) never stop the file helper
        with self._lock:
            tasks = self._running.setdefault(learner, set())
            if meta.get("status") in FINISHED:
                self._ended.append(meta["id"])
                if meta["id"] not in tasks:
                    return None
                tasks.discard(meta["id"])
                return learner
            if meta["id"] not in self._ended:
                tasks.add(meta["id"])
        return None

    def busy(self) -> set[str]:
        with self._lock:
            return {learner for learner, tasks in self._running.items() if tasks}
