"""The “container snapshots” chapter: take, inspect, restore and delete a snapshot.

Evidence rules (docs/architecture.md §2, docs/incus-facts.md §3): a restore is proven only by a new
`volatile.uuid.generation` or an `instance-restored` event, never by the file's
absence; a step whose evidence a later step consumed stays passed if the journal
saw it pass.
The checks and the chapter's steps are here; their shared evidence rules (the proof of a restore,
the order rule) are in evidence.py, the titles, nudges and solutions in texts.py.
"""
from __future__ import annotations

from datetime import datetime, timezone

from ...grading.contract import Retention
from ...grading.engine import Chapter, Context, Status, Step, Verdict, consumed, failed, passed
from ...i18n import M
from ..evidence_helpers import hms, not_done
from ..retention import own_snapshot
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
from .texts import NUDGES, SOLUTIONS, TITLES


def check_prerequisites(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    inst = ctx.observation.instance
    if inst.running:
        return passed(M("snap.prereq.ok", "The instance “{container}” exists and is running.", **msg_params(ctx)),
                      status_now(ctx))
    if ctx.observation.snapshot is not None or restore_proof(ctx) is not None:
        return consumed(M("snap.prereq.stopped_later", "The instance is stopped, as a later step of the chapter asks."))
    return failed(M("snap.prereq.stopped", "The instance “{container}” exists but is {status}.",
                    status=inst.status, **msg_params(ctx)),
                  M("snap.prereq.stopped.hint", "Start it with “incus start {container}”.", **msg_params(ctx)),
                  "not_running")


def check_snapshot(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs, snap = ctx.observation, ctx.observation.snapshot
    if snap is not None:
        if snap.stateful:
            return failed(M("snap.snapshot.stateful", "“{snapshot}” is a stateful snapshot (it saved the memory too).",
                            **msg_params(ctx)),
                          M("snap.snapshot.stateful.hint", "This chapter uses a stateless snapshot. Delete it with "
                                                           "“incus snapshot delete {container} {snapshot}”, then run "
                                                           "“incus snapshot create {container} {snapshot}” without "
                                                           "--stateful.", **msg_params(ctx)),
                          "stateful")
        return passed(M("snap.snapshot.ok", "The snapshot “{snapshot}” of “{container}” exists and is stateless.",
                        **msg_params(ctx)),
                      M("snap.evidence.snapshot_created", "Snapshot {snapshot} created at {time} UTC.",
                        time=hms(snap.created_at), **msg_params(ctx)))
    created = ctx.history.saw("instance-snapshot-created", name=ctx.params["snapshot"])
    if created is not None:
        return passed(M("snap.snapshot.ok_event", "The snapshot “{snapshot}” was created; it has been deleted since.",
                        **msg_params(ctx)),
                      M("snap.evidence.snapshot_event", "Incus reported the creation of {snapshot} at {time}.",
                        time=hms(created.time), **msg_params(ctx)))
    if restore_proof(ctx) is not None:
        return consumed(M("snap.snapshot.consumed", "The snapshot “{snapshot}” is no longer there: the cleanup step "
                                                    "deleted it.", **msg_params(ctx)))
    if (unknown := restore_unknown(ctx)) is not None:
        return unknown
    if obs.other_snapshots:
        names = ", ".join(s.name for s in obs.other_snapshots)
        return failed(M("snap.snapshot.wrong_name", "There is no snapshot named “{snapshot}”, but “{container}” has: "
                                                    "{found}.", found=names, **msg_params(ctx)),
                      M("snap.snapshot.wrong_name.hint",
                        "The lab looks for the name “{snapshot}”. Rename yours with “incus snapshot rename {container} "
                        "{first} {snapshot}”, or create it with “incus snapshot create {container} {snapshot}”.",
                        first=obs.other_snapshots[0].name, **msg_params(ctx)),
                      "wrong_snapshot_name")
    return failed(M("snap.snapshot.missing", "“{container}” has no snapshot yet.", **msg_params(ctx)),
                  M("snap.snapshot.missing.hint", "Create it with “incus snapshot create {container} {snapshot}”. "
                                                  "Older guides show “incus snapshot {container} {snapshot}”, which "
                                                  "Incus rejects with “unknown command”: the snapshot commands are now "
                                                  "subcommands (create, restore, delete…).", **msg_params(ctx)),
                  "no_snapshot")


def check_touch(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs, snap = ctx.observation, ctx.observation.snapshot
    if obs.file_present:
        if snap is None:
            return do_first(ctx, "snapshot") if not_done(ctx, "snapshot") else recorded_touch(ctx) or consumed(
                M("snap.touch.snapshot_gone", "The snapshot it must be compared with is gone.", **msg_params(ctx)))
        if snap.created_at is None or obs.file_modified is None:
            # Never pass on what cannot be compared.
            return failed(M("snap.touch.time_unknown", "Incus did not give the time of {path} or of the snapshot, so "
                                                       "labkit cannot tell which came first.", **msg_params(ctx)),
                          M("snap.touch.time_unknown.hint",
                            "Compare them yourself with “incus exec {container} -- ls -l --time-style=full-iso {path}” "
                            "and “incus snapshot list {container}”, then check again.", **msg_params(ctx)),
                          "file_time_unknown")
        return _file_time(ctx, obs.file_modified, snap.created_at)
    if restore_proof(ctx) is not None:
        return recorded_touch(ctx) or consumed(M("snap.touch.consumed", "{path} is gone: the restore removed it, as it "
                                                                        "should.", **msg_params(ctx)))
    if (unknown := restore_unknown(ctx)) is not None:
        return unknown
    if snap is None and not_done(ctx, "snapshot"):
        return do_first(ctx, "snapshot")
    if obs.file_elsewhere:
        return failed(M("snap.touch.elsewhere", "{path} does not exist, but the file is at {found}.",
                        found=", ".join(obs.file_elsewhere), **msg_params(ctx)),
                      M("snap.touch.elsewhere.hint", "The lab expects the file in root's home folder, /root, where "
                                                     "“incus shell {container}” opens. Create it there with "
                                                     "“incus exec {container} -- touch {path}”.", **msg_params(ctx)),
                      "file_elsewhere")
    if "touch" in ctx.history.passed:
        return failed(M("snap.touch.removed", "{path} was there before but has disappeared, and no restore happened.",
                        **msg_params(ctx)),
                      M("snap.touch.removed.hint", "Deleting the file by hand (rm) is not what this lab teaches. "
                                                   "Create it again with “incus exec {container} -- touch {path}”, "
                                                   "then restore the snapshot to see it disappear.", **msg_params(ctx)),
                      "rm_instead_of_restore")
    return failed(M("snap.touch.missing", "{path} does not exist yet.", **msg_params(ctx)),
                  M("snap.touch.missing.hint",
                    "Create it with “incus exec {container} -- touch {path}”, or open a shell with "
                    "“incus shell {container}” and type “touch this_file.txt”.", **msg_params(ctx)), "no_file")


def _file_time(ctx: Context, modified: datetime, created: datetime) -> Verdict:
    """Order the file and the snapshot: whole seconds from the files API, the finer time read
    inside the instance when both share a second, never a pass on a tie or a time to come."""
    obs = ctx.observation
    seen = M("snap.evidence.file_time", "File modified at {file}, snapshot taken at {snap} (UTC).",
             file=hms(modified), snap=hms(created))
    now = obs.taken_at or datetime.now(timezone.utc)
    if modified > now + FUTURE_SKEW:
        return failed(M("snap.touch.future", "{path} claims to have been modified on {date}, a time still to come: its "
                                             "time was set by hand, so it proves nothing.",
                        date=modified.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), **msg_params(ctx)),
                      M("snap.touch.future.hint", "Give the file the current time: "
                                                  "“incus exec {container} -- touch {path}” (without -d or -t).",
                        **msg_params(ctx)),
                      "file_time_future", seen)
    if int(modified.timestamp()) == int(created.timestamp()):
        fine = obs.file_modified_fine
        if fine is None or fine == created:
            # The daemon's report of the touch, when the recorder kept it, orders them all the same.
            return recorded_touch(ctx) or consumed(M("snap.touch.same_second",
                                                     "{path} and the snapshot “{snapshot}” date from the same second "
                                                     "({time} UTC), and the file's finer time could not be read inside "
                                                     "the instance, so which came first cannot be told.",
                                                     time=hms(created), **msg_params(ctx)),
                                                   seen)
        modified, seen = fine, M("snap.evidence.file_time_fine", "File modified at {file}, snapshot taken at {snap} "
                                                                 "(UTC, to the microsecond).",
                                 file=hms(fine, fine=True), snap=hms(created, fine=True))
    if modified < created:
        return failed(M("snap.touch.older", "{path} is older than the snapshot “{snapshot}”: it was created before the "
                                            "snapshot.", **msg_params(ctx)),
                      M("snap.touch.older.hint", "The snapshot already contains the file, so a restore cannot remove "
                                                 "it. Run “incus snapshot delete {container} {snapshot}” and "
                                                 "“incus exec {container} -- rm {path}”, then take the snapshot again "
                                                 "before creating the file.", **msg_params(ctx)),
                      "file_before_snapshot", seen)
    return passed(M("snap.touch.ok", "{path} exists and is newer than the snapshot.", **msg_params(ctx)), seen)


def check_stop(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    inst = ctx.observation.instance
    if restore_proof(ctx) is not None:
        before = before_restore(ctx)
        if before is not None and before.action == "instance-started":
            return failed(M("snap.stop.restored_running", "The snapshot was restored while “{container}” was running: "
                                                          "Incus stopped and restarted it by itself.",
                            **msg_params(ctx)),
                          M("snap.stop.restored_running.hint",
                            "It works, but the chapter asks you to stop the instance first, so that nothing writes to "
                            "its disk during the restore: run “incus stop {container}” before "
                            "“incus snapshot restore {container} {snapshot}”.", **msg_params(ctx)),
                          "restore_while_running")
        if before is not None:
            return passed(M("snap.stop.ok_event", "The instance was stopped before the restore."),
                          M("snap.evidence.stop_event", "Incus reported the stop at {time}.", time=hms(before.time)))
        if not inst.running:
            return passed(M("snap.stop.ok", "The instance “{container}” is stopped.", **msg_params(ctx)))
        return consumed(M("snap.stop.consumed", "The instance is running again after the restore, so the stop that "
                                                "came before it leaves no trace."))
    if not_done(ctx, "touch"):
        return do_first(ctx, "touch")
    if not inst.running:
        return passed(M("snap.stop.ok", "The instance “{container}” is stopped.", **msg_params(ctx)))
    if (unknown := restore_unknown(ctx)) is not None:
        return unknown
    return failed(M("snap.stop.running", "The instance “{container}” is still running.", **msg_params(ctx)),
                  M("snap.stop.running.hint", "Stop it with “incus stop {container}”: restoring a stopped instance is "
                                              "the safe way, nothing is writing to its disk meanwhile.",
                    **msg_params(ctx)),
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
        return failed(M("snap.restore.rm", "{path} is gone, but the instance was never restored.", **msg_params(ctx)),
                      M("snap.restore.rm.hint", "Removing the file by hand (rm) is not a restore. Create it again with "
                                                "“incus exec {container} -- touch {path}”, stop the instance, then run "
                                                "“incus snapshot restore {container} {snapshot}”.", **msg_params(ctx)),
                      "rm_instead_of_restore")
    if not_done(ctx, "touch"):
        return do_first(ctx, "touch")
    return failed(M("snap.restore.missing", "The instance has not been restored from a snapshot yet.",
                    **msg_params(ctx)),
                  M("snap.restore.missing.hint", "Run “incus snapshot restore {container} {snapshot}”. Older guides "
                                                 "show “incus restore {container} {snapshot}”, which Incus rejects "
                                                 "with “unknown command \"restore\"”.", **msg_params(ctx)),
                  "no_restore")


def check_start(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    if restore_proof(ctx) is None:
        return _after_restore_unknown(ctx) or do_first(ctx, "restore")
    if ctx.observation.instance.running:
        return passed(M("snap.start.ok", "The instance “{container}” is running again after the restore.",
                        **msg_params(ctx)),
                      started_after_restore(ctx) or status_now(ctx))
    return failed(M("snap.start.stopped", "The snapshot was restored, but “{container}” is still stopped.",
                    **msg_params(ctx)),
                  M("snap.start.stopped.hint", "A restore does not start a stopped instance. Start it with "
                                               "“incus start {container}”.", **msg_params(ctx)),
                  "restore_without_start")


def _after_restore_unknown(ctx: Context) -> Verdict | None:
    """A step after a restore that can be neither proven nor ruled out is not verified either."""
    unknown = restore_unknown(ctx)
    if unknown is None:
        return None
    return consumed(M("snap.after_unknown", "The restore cannot be verified (see the step “{step}”), so neither can "
                                            "this step, which comes after it.", step=TITLES["restore"]),
                    *unknown.evidence, how=unknown.hint)


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
        return consumed(M("snap.verify.no_file_proof", "{path} is absent, but no check saw it before the restore, so "
                                                       "its absence proves nothing.", **msg_params(ctx)))
    if obs.file_present:
        return failed(M("snap.verify.still_there", "{path} is still there after the restore.", **msg_params(ctx)),
                      M("snap.verify.still_there.hint", "The file survived the restore, so the snapshot already "
                                                        "contained it: it was created before the snapshot was taken. "
                                                        "Redo the chapter in order (“labkit reset --yes”).",
                        **msg_params(ctx)),
                      "file_in_snapshot")
    return passed(M("snap.verify.ok", "{path} is gone: the restore brought the instance back to the moment of the "
                                      "snapshot.", **msg_params(ctx)),
                  M("snap.evidence.file_absent", "Incus reports no {path} in the running instance at {time} UTC.",
                    time=hms(obs.taken_at), **msg_params(ctx)))


def check_cleanup(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    if ctx.observation.snapshot is not None:
        if not_done(ctx, "verify"):
            return do_first(ctx, "verify")
        return failed(M("snap.cleanup.still_there", "The snapshot “{snapshot}” still exists.", **msg_params(ctx)),
                      M("snap.cleanup.still_there.hint",
                        "Delete it with “incus snapshot delete {container} {snapshot}”. Older guides show "
                        "“incus delete {container}/{snapshot}”, which Incus rejects (“Invalid instance name”); "
                        "“incus delete {container}” alone deletes a stopped instance without asking.",
                        **msg_params(ctx)),
                      "snapshot_not_deleted")
    if not_done(ctx, "verify"):
        return do_first(ctx, "verify")
    if (unknown := restore_unknown(ctx)) is not None:
        return unknown  # a snapshot is gone, but which one, and when, cannot be told
    # verify passed, or is only not verified (its file was never seen): the snapshot is gone
    # and the instance is there, after a proven restore (verify fails without one).
    deleted = ctx.history.saw("instance-snapshot-deleted", name=ctx.params["snapshot"])
    return passed(M("snap.cleanup.ok", "The snapshot “{snapshot}” is deleted and “{container}” is still there.",
                    **msg_params(ctx)),
                  M("snap.evidence.snapshot_deleted", "Incus reported the deletion of {snapshot} at {time}.",
                    time=hms(deleted.time), **msg_params(ctx)) if deleted
                  else M("snap.evidence.no_snapshot", "No snapshot named {snapshot} at {time} UTC.",
                         time=hms(ctx.observation.taken_at), **msg_params(ctx)))


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
    title=M("snap.title", "Container snapshots"),
    steps=tuple(Step(step_id, POINTS[step_id], TITLES[step_id], CHECKS[step_id], NUDGES[step_id],
                     SOLUTIONS[step_id], COMMANDS[step_id]) for step_id in TITLES),
    defaults={"container": "ubuntu-test", "snapshot": "ubuntu-test-1", "file": FILE_PATH},
    observe=_observe,
    reset=_reset,
    retention=Retention(own_snapshot, last_sightings_before_restore),
    reset_question=M("cli.reset.confirm", "This deletes the snapshot {snapshot} and {file} in {container}, and starts "
                                          "a new attempt. Continue?"),
    notebook="snapshots",
    # Its notebook's French was translated before there was a second chapter, under unprefixed contexts.
    notebook_context="",
    observe_class=_observe_class,
    untouched=untouched,
)
