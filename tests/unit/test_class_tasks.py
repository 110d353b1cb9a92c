"""The class watcher leaves a learner's files alone while a task runs in their project.

Events as Incus 6.0.4 sends them on `/1.0/events?type=operation&all-projects=true` (recorded with
`incus monitor --type operation --all-projects --format json`): a task's “Pending” event often comes
after its “Running” one, and may come after its end.
"""
from __future__ import annotations

from labkit.classroom.operations import RunningTasks


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


def test_a_pending_event_after_the_end_does_not_hold_the_learner_for_ever() -> None:
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


def test_exec_sessions_other_projects_and_lifecycle_events_hold_nobody() -> None:
    tasks = RunningTasks({"c-alice": "alice"})
    tasks.update(op("c-alice", "1", "Running", klass="websocket", description="Executing command"))
    tasks.update(op("default", "2", "Running"))
    tasks.update({"type": "lifecycle", "project": "c-alice", "metadata": {"action": "instance-restored"}})
    assert tasks.busy() == set()
    assert tasks.update(op("c-alice", "1", "Success", klass="websocket")) is None
