"""The class watcher does not look at a learner while a task runs in their project, for a while.

Events as Incus 6.0.4 sends them on `/1.0/events?type=operation&all-projects=true` (recorded with
`incus monitor --type operation --all-projects --format json`): a task's “Pending” event often comes
after its “Running” one, and may come after its end.
"""
from __future__ import annotations

import json
import queue
import threading
import time
import types

from labkit.classroom import operations
from labkit.classroom import status as class_status_module
from labkit.classroom.operations import HOLD_SECONDS, RunningTasks
from labkit.incus import events


def op(project: str, op_id: str, status: str, klass: str = "task", description: str = "Restoring snapshot") -> dict:
    return {"type": "operation", "project": project, "timestamp": "2026-12-02T14:50:00Z",
            "metadata": {"id": op_id, "class": klass, "description": description, "status": status,
                         "resources": {"instances": [f"/1.0/instances/ubuntu-test?project={project}"]}}}


def test_a_restore_holds_its_learner_until_it_ends_and_its_end_names_them() -> None:
    tasks = RunningTasks({"c-alice": "alice", "c-bob": "bob"})
    assert tasks.update(op("c-alice", "1", "Running")) is None
    assert tasks.update(op("c-alice", "1", "Pending")) is None
    assert tasks.busy() == {"alice"}
    assert tasks.update(op("c-alice", "1", "Success")) == "alice"
    assert tasks.busy() == set()


def test_a_pending_event_after_the_end_does_not_hold_the_learner_again() -> None:
    tasks = RunningTasks({"c-alice": "alice"})
    tasks.update(op("c-alice", "1", "Running"))
    assert tasks.update(op("c-alice", "1", "Failure")) == "alice"
    tasks.update(op("c-alice", "1", "Pending"))
    assert tasks.busy() == set()


def test_two_tasks_at_once_hold_until_both_end() -> None:
    tasks = RunningTasks({"c-alice": "alice"})
    tasks.update(op("c-alice", "1", "Running"))
    tasks.update(op("c-alice", "2", "Running", description="Snapshotting instance"))
    tasks.update(op("c-alice", "1", "Success"))
    assert tasks.busy() == {"alice"}
    tasks.update(op("c-alice", "2", "Cancelled"))
    assert tasks.busy() == set()


def test_a_task_that_never_ends_holds_for_a_while_only() -> None:
    """A learner's endless task (or a lost end event) must not freeze their row for the session."""
    now = [100.0]
    tasks = RunningTasks({"c-alice": "alice"}, clock=lambda: now[0])
    tasks.update(op("c-alice", "1", "Running", description="Stopping instance"))
    now[0] += HOLD_SECONDS - 1
    assert tasks.busy() == {"alice"}
    now[0] += 2
    assert tasks.busy() == set()


def test_a_learner_starting_task_after_task_is_held_for_a_while_only() -> None:
    """New tasks one after the other, each shorter than the hold: the row is looked at again after
    HOLD_SECONDS of holding, not never; after a break, a new task holds afresh."""
    now = [100.0]
    tasks = RunningTasks({"c-alice": "alice"}, clock=lambda: now[0])
    for n in range(int(HOLD_SECONDS // 5) + 2):
        tasks.update(op("c-alice", f"s{n}", "Running", description="Snapshotting instance"))
        tasks.update(op("c-alice", f"s{n - 1}", "Success", description="Snapshotting instance"))
        held = tasks.busy()
        assert held == ({"alice"} if n * 5 < HOLD_SECONDS else set()), (n, held)
        now[0] += 5
    tasks.update(op("c-alice", f"s{n}", "Success", description="Snapshotting instance"))
    assert tasks.busy() == set()
    tasks.update(op("c-alice", "late", "Running", description="Stopping instance"))
    assert tasks.busy() == {"alice"}


def test_commands_in_the_instance_other_projects_and_lifecycle_events_hold_nobody() -> None:
    tasks = RunningTasks({"c-alice": "alice"})
    tasks.update(op("c-alice", "1", "Running", klass="websocket", description="Executing command"))
    # An exec sent without a websocket (`sleep infinity` in the background) is a task, but never
    # stops the file helper: it must not let a learner freeze their own row.
    tasks.update(op("c-alice", "2", "Running", description="Executing command"))
    tasks.update(op("default", "3", "Running"))
    tasks.update({"type": "lifecycle", "project": "c-alice", "metadata": {"action": "instance-restored"}})
    assert tasks.busy() == set()
    assert tasks.update(op("c-alice", "1", "Success", klass="websocket")) is None


class FakeEvents:
    """The event stream `watch` reads, fed by the test."""

    def __init__(self) -> None:
        self.items: queue.Queue[str | None] = queue.Queue()

    def __iter__(self):
        while (item := self.items.get()) is not None:
            yield item

    def close(self) -> None:
        self.items.put(None)


def test_the_watcher_keeps_refreshing_the_class_but_leaves_a_held_learner_until_the_task_ends(monkeypatch) -> None:
    stream, looks = FakeEvents(), []
    info = types.SimpleNamespace(learners={"alice": "c-alice", "bob": "c-bob"}, container="ubuntu-test")
    started = time.monotonic()

    def fake_status(**kwargs):
        looks.append((time.monotonic() - started, kwargs.get("previous") is not None and kwargs.get("only") is not None,
                      None if kwargs.get("only") is None else sorted(kwargs["only"]), sorted(kwargs.get("hold") or ())))
        return types.SimpleNamespace(info=info, chapter=None, snapshot="s")

    monkeypatch.setattr(class_status_module, "class_status", fake_status)
    def connect(*args, types: str = "lifecycle", **kwargs):
        assert "operation" in types.split(","), "the watcher must hear when tasks start and end"
        return stream

    monkeypatch.setattr(events, "connect", connect)

    def learner_works() -> None:
        time.sleep(0.3)
        stream.items.put(json.dumps(op("c-alice", "r1", "Running")))
        time.sleep(1.6)  # two full refreshes happen meanwhile (every 0.5 s)
        stream.items.put(json.dumps(op("c-alice", "r1", "Success")))

    threading.Thread(target=learner_works, daemon=True).start()
    class_status_module.watch(client=types.SimpleNamespace(endpoint=None), name="k", folder=None,
                              show=lambda s: None, seconds=2.6, every=0.5)
    during = [look for look in looks if 0.5 < look[0] < 1.8]
    assert during and all(not partial and only is None and hold == ["alice"]
                          for _, partial, only, hold in during), looks
    after = [look for look in looks if look[0] > 2.0]
    assert any(partial and only == ["alice"] and hold == [] for _, partial, only, hold in after), looks
    assert all(hold == [] for *_, hold in after), looks


def test_the_hold_is_shorter_than_a_learner_would_wait() -> None:
    # A command held up by one helper waits at most 15 s; a hold must not be much longer than the
    # wait it avoids, nor so short that every restore is looked at in the middle.
    assert 15 <= operations.HOLD_SECONDS <= 60
