"""The “container snapshots” chapter: take, inspect, restore and delete a snapshot.

Evidence rules (docs/architecture.md §2, docs/incus-facts.md §3): a restore is proven only by a new
`volatile.uuid.generation` or an `instance-restored` event, never by the file's
absence; a step whose evidence a later step consumed stays passed if the journal
saw it pass.
The checks and the chapter's steps are here; their shared evidence rules (the proof of a restore,
the order rule) are in evidence.py, the texts (titles, nudges, solutions, verdicts) in texts.py.
"""
from __future__ import annotations

from datetime import datetime, timezone

from ...grading.contract import Retention
from ...grading.engine import Chapter, Context, Status, Step, Verdict, consumed, failed, passed
from ..evidence_helpers import hms, not_done
from ..retention import own_snapshot
from . import texts
from .evidence import (
    FILE_PATH,
    before_restore,
    do_first,
    identity_problem,
    instance_gone,
    msg_params,
    restore_doubt,
    restore_proof,
    restore_unknown,
    started_after_restore,
    status_now,
)
from .recorded import FUTURE_SKEW, last_sightings_before_restore, recorded_touch


def check_prerequisites(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    inst = ctx.observation.instance
    if inst.running:
        return passed(texts.INSTANCE_RUNNING.bind(**msg_params(ctx)), status_now(ctx))
    if ctx.observation.snapshot is not None or restore_proof(ctx) is not None:
        return consumed(texts.STOPPED_BY_LATER_STEP)
    return failed(texts.INSTANCE_NOT_RUNNING.bind(status=inst.status, **msg_params(ctx)),
                  texts.INSTANCE_NOT_RUNNING_HINT.bind(**msg_params(ctx)), "not_running")


def check_snapshot(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs, snap = ctx.observation, ctx.observation.snapshot
    if snap is not None:
        if snap.stateful:
            return failed(texts.SNAPSHOT_STATEFUL.bind(**msg_params(ctx)),
                          texts.SNAPSHOT_STATEFUL_HINT.bind(**msg_params(ctx)), "stateful")
        return passed(texts.SNAPSHOT_STATELESS.bind(**msg_params(ctx)),
                      texts.SNAPSHOT_CREATED_AT.bind(time=hms(snap.created_at), **msg_params(ctx)))
    created = ctx.history.saw("instance-snapshot-created", name=ctx.params["snapshot"])
    if created is not None:
        return passed(texts.SNAPSHOT_CREATED_THEN_DELETED.bind(**msg_params(ctx)),
                      texts.SNAPSHOT_CREATION_EVENT.bind(time=hms(created.time), **msg_params(ctx)))
    if restore_proof(ctx) is not None:
        return consumed(texts.SNAPSHOT_DELETED_BY_CLEANUP.bind(**msg_params(ctx)))
    if (unknown := restore_unknown(ctx)) is not None:
        return unknown
    if obs.other_snapshots:
        names = ", ".join(s.name for s in obs.other_snapshots)
        return failed(texts.WRONG_SNAPSHOT_NAME.bind(found=names, **msg_params(ctx)),
                      texts.WRONG_SNAPSHOT_NAME_HINT.bind(first=obs.other_snapshots[0].name, **msg_params(ctx)),
                      "wrong_snapshot_name")
    return failed(texts.NO_SNAPSHOT_YET.bind(**msg_params(ctx)), texts.NO_SNAPSHOT_YET_HINT.bind(**msg_params(ctx)),
                  "no_snapshot")


def check_touch(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs, snap = ctx.observation, ctx.observation.snapshot
    if obs.file_present:
        if snap is None:
            return do_first(ctx, "snapshot") if not_done(ctx, "snapshot") else recorded_touch(ctx) or consumed(
                texts.SNAPSHOT_TO_COMPARE_GONE.bind(**msg_params(ctx)))
        if snap.created_at is None or obs.file_modified is None:
            # Never pass on what cannot be compared.
            return failed(texts.FILE_TIME_UNKNOWN.bind(**msg_params(ctx)),
                          texts.FILE_TIME_UNKNOWN_HINT.bind(**msg_params(ctx)), "file_time_unknown")
        return _file_time(ctx, obs.file_modified, snap.created_at)
    if restore_proof(ctx) is not None:
        return recorded_touch(ctx) or consumed(texts.FILE_REMOVED_BY_RESTORE.bind(**msg_params(ctx)))
    if (unknown := restore_unknown(ctx)) is not None:
        return unknown
    if snap is None and not_done(ctx, "snapshot"):
        return do_first(ctx, "snapshot")
    if obs.file_elsewhere:
        return failed(texts.FILE_ELSEWHERE.bind(found=", ".join(obs.file_elsewhere), **msg_params(ctx)),
                      texts.FILE_ELSEWHERE_HINT.bind(**msg_params(ctx)), "file_elsewhere")
    if "touch" in ctx.history.passed:
        return failed(texts.FILE_DISAPPEARED.bind(**msg_params(ctx)),
                      texts.FILE_DISAPPEARED_HINT.bind(**msg_params(ctx)), "rm_instead_of_restore")
    return failed(texts.NO_FILE_YET.bind(**msg_params(ctx)), texts.NO_FILE_YET_HINT.bind(**msg_params(ctx)), "no_file")


def _file_time(ctx: Context, modified: datetime, created: datetime) -> Verdict:
    """Order the file and the snapshot: whole seconds from the files API, the finer time read
    inside the instance when both share a second, never a pass on a tie or a time to come."""
    obs = ctx.observation
    seen = texts.FILE_AND_SNAPSHOT_TIMES.bind(file=hms(modified), snap=hms(created))
    now = obs.taken_at or datetime.now(timezone.utc)
    if modified > now + FUTURE_SKEW:
        date = modified.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return failed(texts.FILE_TIME_FUTURE.bind(date=date, **msg_params(ctx)),
                      texts.FILE_TIME_FUTURE_HINT.bind(**msg_params(ctx)), "file_time_future", seen)
    if int(modified.timestamp()) == int(created.timestamp()):
        fine = obs.file_modified_fine
        if fine is None or fine == created:
            # The daemon's report of the touch, when the recorder kept it, orders them all the same.
            same_second = texts.FILE_SAME_SECOND.bind(time=hms(created), **msg_params(ctx))
            return recorded_touch(ctx) or consumed(same_second, seen)
        modified = fine
        seen = texts.FILE_AND_SNAPSHOT_TIMES_FINE.bind(file=hms(fine, fine=True), snap=hms(created, fine=True))
    if modified < created:
        return failed(texts.FILE_BEFORE_SNAPSHOT.bind(**msg_params(ctx)),
                      texts.FILE_BEFORE_SNAPSHOT_HINT.bind(**msg_params(ctx)), "file_before_snapshot", seen)
    return passed(texts.FILE_AFTER_SNAPSHOT.bind(**msg_params(ctx)), seen)


def check_stop(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    inst = ctx.observation.instance
    if restore_proof(ctx) is not None:
        before = before_restore(ctx)
        if before is not None and before.action == "instance-started":
            return failed(texts.RESTORED_WHILE_RUNNING.bind(**msg_params(ctx)),
                          texts.RESTORED_WHILE_RUNNING_HINT.bind(**msg_params(ctx)), "restore_while_running")
        if before is not None:
            return passed(texts.STOPPED_BEFORE_RESTORE, texts.STOP_EVENT.bind(time=hms(before.time)))
        if not inst.running:
            return passed(texts.INSTANCE_STOPPED.bind(**msg_params(ctx)))
        return consumed(texts.STOP_LEFT_NO_TRACE)
    if not_done(ctx, "touch"):
        return do_first(ctx, "touch")
    if not inst.running:
        return passed(texts.INSTANCE_STOPPED.bind(**msg_params(ctx)))
    if (unknown := restore_unknown(ctx)) is not None:
        return unknown
    return failed(texts.STILL_RUNNING.bind(**msg_params(ctx)), texts.STILL_RUNNING_HINT.bind(**msg_params(ctx)),
                  "still_running")


def check_restore(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    proof = restore_proof(ctx)
    if proof is not None:
        return proof
    if (problem := identity_problem(ctx) or restore_doubt(ctx) or restore_unknown(ctx)) is not None:
        return problem
    obs = ctx.observation
    if not obs.file_present and "touch" in ctx.history.passed:
        return failed(texts.FILE_GONE_WITHOUT_RESTORE.bind(**msg_params(ctx)),
                      texts.FILE_GONE_WITHOUT_RESTORE_HINT.bind(**msg_params(ctx)), "rm_instead_of_restore")
    if not_done(ctx, "touch"):
        return do_first(ctx, "touch")
    return failed(texts.NO_RESTORE_YET.bind(**msg_params(ctx)), texts.NO_RESTORE_YET_HINT.bind(**msg_params(ctx)),
                  "no_restore")


def check_start(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    if restore_proof(ctx) is None:
        return _after_restore_unknown(ctx) or do_first(ctx, "restore")
    if ctx.observation.instance.running:
        return passed(texts.RUNNING_AGAIN.bind(**msg_params(ctx)), started_after_restore(ctx) or status_now(ctx))
    return failed(texts.STILL_STOPPED.bind(**msg_params(ctx)), texts.STILL_STOPPED_HINT.bind(**msg_params(ctx)),
                  "restore_without_start")


def _after_restore_unknown(ctx: Context) -> Verdict | None:
    """A step after a restore that can be neither proven nor ruled out is not verified either."""
    unknown = restore_unknown(ctx)
    if unknown is None:
        return None
    return consumed(texts.AFTER_RESTORE_UNKNOWN.bind(step=texts.TITLES["restore"]), *unknown.evidence, how=unknown.hint)


def check_verify(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs = ctx.observation
    if restore_proof(ctx) is None:
        return _after_restore_unknown(ctx) or do_first(ctx, "restore")
    if not obs.instance.running:
        return do_first(ctx, "start")
    if not obs.file_present and ctx.earlier["touch"].status is Status.NOT_VERIFIED:
        # Its absence proves something only if the file was seen before the restore.
        return consumed(texts.ABSENCE_PROVES_NOTHING.bind(**msg_params(ctx)))
    if obs.file_present:
        return failed(texts.FILE_SURVIVED_RESTORE.bind(**msg_params(ctx)),
                      texts.FILE_SURVIVED_RESTORE_HINT.bind(**msg_params(ctx)), "file_in_snapshot")
    return passed(texts.FILE_GONE_AFTER_RESTORE.bind(**msg_params(ctx)),
                  texts.FILE_ABSENT.bind(time=hms(obs.taken_at), **msg_params(ctx)))


def check_cleanup(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    if ctx.observation.snapshot is not None:
        if not_done(ctx, "verify"):
            return do_first(ctx, "verify")
        return failed(texts.SNAPSHOT_STILL_THERE.bind(**msg_params(ctx)),
                      texts.SNAPSHOT_STILL_THERE_HINT.bind(**msg_params(ctx)), "snapshot_not_deleted")
    if not_done(ctx, "verify"):
        return do_first(ctx, "verify")
    if (unknown := restore_unknown(ctx)) is not None:
        return unknown  # a snapshot is gone, but which one, and when, cannot be told
    # verify passed, or is only not verified (its file was never seen): the snapshot is gone
    # and the instance is there, after a proven restore (verify fails without one).
    deleted = ctx.history.saw("instance-snapshot-deleted", name=ctx.params["snapshot"])
    return passed(texts.SNAPSHOT_DELETED.bind(**msg_params(ctx)),
                  texts.SNAPSHOT_DELETION_EVENT.bind(time=hms(deleted.time), **msg_params(ctx)) if deleted
                  else texts.SNAPSHOT_ABSENT.bind(time=hms(ctx.observation.taken_at), **msg_params(ctx)))


# What the notebook's solution cells and the integration tests run, per step.
COMMANDS = {
    "prerequisites": (),
    "snapshot": ("incus snapshot create {container} {snapshot}",),
    "touch": ("incus exec {container} -- touch /root/this_file.txt",),
    "stop": ("incus stop {container}",),
    "restore": ("incus snapshot restore {container} {snapshot}",),
    "start": ("incus start {container}",),
    "verify": ("incus exec {container} -- ls -l /root",),
    "cleanup": ("incus snapshot delete {container} {snapshot}",),
}
POINTS = {"prerequisites": 1, "snapshot": 2, "touch": 1, "stop": 1, "restore": 3, "start": 1, "verify": 1, "cleanup": 2}
CHECKS = {"prerequisites": check_prerequisites, "snapshot": check_snapshot, "touch": check_touch, "stop": check_stop,
          "restore": check_restore, "start": check_start, "verify": check_verify, "cleanup": check_cleanup}


def _observe_class(main, params, projects, instances, cache):
    from .class_view import observe_class  # a class view's I/O: loaded by class views only

    return observe_class(main, params, projects, instances, cache)


def untouched(obs, history, params) -> bool:
    """As `labkit class create` left it: running, no snapshot at all, no file where the class view looked,
    and the very instance whose identity the class holds (neither replaced nor restored)."""
    inst, base = obs.instance, history.baseline
    return (inst is not None and inst.running and not obs.snapshots and not obs.file_present and not obs.file_elsewhere
            and base is not None and base.trusted and (inst.uuid, inst.generation) == (base.uuid, base.generation))


def _observe(access, params):
    from .observe import observe_chapter  # I/O: loaded when a check runs, not with the chapter

    return observe_chapter(access, params)


def _reset(access, params):
    from .observe import reset_chapter

    reset_chapter(access, params)


CHAPTER = Chapter(
    id="snapshots",
    title=texts.CHAPTER_TITLE,
    steps=tuple(Step(step_id, POINTS[step_id], texts.TITLES[step_id], CHECKS[step_id], texts.NUDGES[step_id],
                     texts.SOLUTIONS[step_id], COMMANDS[step_id]) for step_id in texts.TITLES),
    defaults={"container": "ubuntu-test", "snapshot": "ubuntu-test-1", "file": FILE_PATH},
    observe=_observe,
    reset=_reset,
    retention=Retention(own_snapshot, last_sightings_before_restore),
    reset_question=texts.RESET_QUESTION,
    notebook="snapshots",
    # Its notebook's French was translated before there was a second chapter, under unprefixed contexts.
    notebook_context="",
    observe_class=_observe_class,
    untouched=untouched,
)
