"""The learner-facing texts of the “container snapshots” chapter: each step's title, nudge and
solution, and the verdicts its checks give (steps.py, evidence.py).  Apart from the checks so that
the chapter's wording reads in one place; the checks bind each verdict's parameters at its use
(`Message.bind`)."""
from __future__ import annotations

from ...i18n import M

CHAPTER_TITLE = M("snap.title", "Container snapshots")
RESET_QUESTION = M("cli.reset.confirm", "This deletes the snapshot {snapshot} and {file} in {container}, and starts "
                                        "a new attempt. Continue?")

TITLES = {
    "prerequisites": M("snap.title.prerequisites", "Prerequisites"),
    "snapshot": M("snap.title.snapshot", "Take a snapshot"),
    "touch": M("snap.title.touch", "Create a file"),
    "stop": M("snap.title.stop", "Stop the instance"),
    "restore": M("snap.title.restore", "Restore the snapshot"),
    "start": M("snap.title.start", "Start the instance"),
    "verify": M("snap.title.verify", "Check that the file is gone"),
    "cleanup": M("snap.title.cleanup", "Delete the snapshot"),
}
NUDGES = {
    "prerequisites": M("snap.nudge.prerequisites", "The lab needs a running instance named “{container}”: "
                                                   "“labkit setup” creates it."),
    "snapshot": M("snap.nudge.snapshot", "Snapshots have their own family of commands: look at "
                                         "“incus snapshot --help”."),
    "touch": M("snap.nudge.touch", "Run a command inside the instance with “incus exec”, or open a shell in it with "
                                   "“incus shell”; the file goes in /root."),
    "stop": M("snap.nudge.stop", "Stop the instance before restoring it, so that nothing writes to its disk during the "
                                 "restore."),
    "restore": M("snap.nudge.restore", "Restoring is a snapshot subcommand too: look at “incus snapshot --help”."),
    "start": M("snap.nudge.start", "A restore does not start a stopped instance: start it yourself."),
    "verify": M("snap.nudge.verify", "List the files in /root inside the instance: is this_file.txt still there?"),
    "cleanup": M("snap.nudge.cleanup", "Delete the snapshot, and only the snapshot: careful, “incus delete” alone "
                                       "deletes instances."),
}
SOLUTIONS = {
    "prerequisites": M("snap.solution.prerequisites", "Run “labkit setup”, then “incus start {container}” if the "
                                                      "instance is stopped."),
    "snapshot": M("snap.solution.snapshot", "Run “incus snapshot create {container} {snapshot}”."),
    "touch": M("snap.solution.touch", "Run “incus exec {container} -- touch /root/this_file.txt”."),
    "stop": M("snap.solution.stop", "Run “incus stop {container}”."),
    "restore": M("snap.solution.restore", "Run “incus snapshot restore {container} {snapshot}”."),
    "start": M("snap.solution.start", "Run “incus start {container}”."),
    "verify": M("snap.solution.verify", "Run “incus exec {container} -- ls -l /root”: this_file.txt must not be "
                                        "listed."),
    "cleanup": M("snap.solution.cleanup", "Run “incus snapshot delete {container} {snapshot}”."),
}

# Every step: the instance deleted, a step done too early, the instance's status.
INSTANCE_GONE = M("snap.instance_gone", "The instance “{container}” no longer exists.")
INSTANCE_GONE_HINT = M("snap.instance_gone.hint",
                       "On a stopped instance, “incus delete {container}” deletes it without asking, snapshots "
                       "included. Create it again with “labkit setup”, then start over with “labkit reset --yes”. To "
                       "delete a snapshot only: “incus snapshot delete {container} {snapshot}”.")
DO_FIRST = M("snap.do_first", "Do the step “{step}” first: this one builds on it.")
STATUS_NOW = M("snap.evidence.status", "Incus reports {container} as {status} at {time} UTC.")

# Prerequisites: a running instance.
INSTANCE_RUNNING = M("snap.prereq.ok", "The instance “{container}” exists and is running.")
STOPPED_BY_LATER_STEP = M("snap.prereq.stopped_later", "The instance is stopped, as a later step of the chapter asks.")
INSTANCE_NOT_RUNNING = M("snap.prereq.stopped", "The instance “{container}” exists but is {status}.")
INSTANCE_NOT_RUNNING_HINT = M("snap.prereq.stopped.hint", "Start it with “incus start {container}”.")

# Snapshot: a stateless snapshot of the lab's name, or the event of its creation.
SNAPSHOT_STATEFUL = M("snap.snapshot.stateful", "“{snapshot}” is a stateful snapshot (it saved the memory too).")
SNAPSHOT_STATEFUL_HINT = M("snap.snapshot.stateful.hint", "This chapter uses a stateless snapshot. Delete it with "
                                                          "“incus snapshot delete {container} {snapshot}”, then run "
                                                          "“incus snapshot create {container} {snapshot}” without "
                                                          "--stateful.")
SNAPSHOT_STATELESS = M("snap.snapshot.ok", "The snapshot “{snapshot}” of “{container}” exists and is stateless.")
SNAPSHOT_CREATED_AT = M("snap.evidence.snapshot_created", "Snapshot {snapshot} created at {time} UTC.")
SNAPSHOT_CREATED_THEN_DELETED = M("snap.snapshot.ok_event", "The snapshot “{snapshot}” was created; it has been "
                                                            "deleted since.")
SNAPSHOT_CREATION_EVENT = M("snap.evidence.snapshot_event", "Incus reported the creation of {snapshot} at {time}.")
SNAPSHOT_DELETED_BY_CLEANUP = M("snap.snapshot.consumed", "The snapshot “{snapshot}” is no longer there: the cleanup "
                                                          "step deleted it.")
WRONG_SNAPSHOT_NAME = M("snap.snapshot.wrong_name", "There is no snapshot named “{snapshot}”, but “{container}” has: "
                                                    "{found}.")
WRONG_SNAPSHOT_NAME_HINT = M("snap.snapshot.wrong_name.hint",
                             "The lab looks for the name “{snapshot}”. Rename yours with “incus snapshot rename "
                             "{container} {first} {snapshot}”, or create it with “incus snapshot create {container} "
                             "{snapshot}”.")
NO_SNAPSHOT_YET = M("snap.snapshot.missing", "“{container}” has no snapshot yet.")
NO_SNAPSHOT_YET_HINT = M("snap.snapshot.missing.hint", "Create it with “incus snapshot create {container} {snapshot}”. "
                                                       "Older guides show “incus snapshot {container} {snapshot}”, "
                                                       "which Incus rejects with “unknown command”: the snapshot "
                                                       "commands are now subcommands (create, restore, delete…).")

# Touch: the file, newer than the snapshot.
SNAPSHOT_TO_COMPARE_GONE = M("snap.touch.snapshot_gone", "The snapshot it must be compared with is gone.")
FILE_TIME_UNKNOWN = M("snap.touch.time_unknown", "Incus did not give the time of {path} or of the snapshot, so labkit "
                                                 "cannot tell which came first.")
FILE_TIME_UNKNOWN_HINT = M("snap.touch.time_unknown.hint",
                           "Compare them yourself with “incus exec {container} -- ls -l --time-style=full-iso {path}” "
                           "and “incus snapshot list {container}”, then check again.")
FILE_REMOVED_BY_RESTORE = M("snap.touch.consumed", "{path} is gone: the restore removed it, as it should.")
FILE_ELSEWHERE = M("snap.touch.elsewhere", "{path} does not exist, but the file is at {found}.")
FILE_ELSEWHERE_HINT = M("snap.touch.elsewhere.hint", "The lab expects the file in root's home folder, /root, where "
                                                     "“incus shell {container}” opens. Create it there with "
                                                     "“incus exec {container} -- touch {path}”.")
FILE_DISAPPEARED = M("snap.touch.removed", "{path} was there before but has disappeared, and no restore happened.")
FILE_DISAPPEARED_HINT = M("snap.touch.removed.hint", "Deleting the file by hand (rm) is not what this lab teaches. "
                                                     "Create it again with “incus exec {container} -- touch {path}”, "
                                                     "then restore the snapshot to see it disappear.")
NO_FILE_YET = M("snap.touch.missing", "{path} does not exist yet.")
NO_FILE_YET_HINT = M("snap.touch.missing.hint",
                     "Create it with “incus exec {container} -- touch {path}”, or open a shell with "
                     "“incus shell {container}” and type “touch this_file.txt”.")
FILE_AND_SNAPSHOT_TIMES = M("snap.evidence.file_time", "File modified at {file}, snapshot taken at {snap} (UTC).")
FILE_AND_SNAPSHOT_TIMES_FINE = M("snap.evidence.file_time_fine", "File modified at {file}, snapshot taken at {snap} "
                                                                 "(UTC, to the microsecond).")
FILE_TIME_FUTURE = M("snap.touch.future", "{path} claims to have been modified on {date}, a time still to come: its "
                                          "time was set by hand, so it proves nothing.")
FILE_TIME_FUTURE_HINT = M("snap.touch.future.hint", "Give the file the current time: "
                                                    "“incus exec {container} -- touch {path}” (without -d or -t).")
FILE_SAME_SECOND = M("snap.touch.same_second", "{path} and the snapshot “{snapshot}” date from the same second "
                                               "({time} UTC), and the file's finer time could not be read inside "
                                               "the instance, so which came first cannot be told.")
FILE_BEFORE_SNAPSHOT = M("snap.touch.older", "{path} is older than the snapshot “{snapshot}”: it was created before "
                                             "the snapshot.")
FILE_BEFORE_SNAPSHOT_HINT = M("snap.touch.older.hint", "The snapshot already contains the file, so a restore cannot "
                                                       "remove it. Run “incus snapshot delete {container} {snapshot}” "
                                                       "and “incus exec {container} -- rm {path}”, then take the "
                                                       "snapshot again before creating the file.")
FILE_AFTER_SNAPSHOT = M("snap.touch.ok", "{path} exists and is newer than the snapshot.")

# Stop: the instance stopped before the restore.
RESTORED_WHILE_RUNNING = M("snap.stop.restored_running", "The snapshot was restored while “{container}” was running: "
                                                         "Incus stopped and restarted it by itself.")
RESTORED_WHILE_RUNNING_HINT = M("snap.stop.restored_running.hint",
                                "It works, but the chapter asks you to stop the instance first, so that nothing writes "
                                "to its disk during the restore: run “incus stop {container}” before "
                                "“incus snapshot restore {container} {snapshot}”.")
STOPPED_BEFORE_RESTORE = M("snap.stop.ok_event", "The instance was stopped before the restore.")
STOP_EVENT = M("snap.evidence.stop_event", "Incus reported the stop at {time}.")
INSTANCE_STOPPED = M("snap.stop.ok", "The instance “{container}” is stopped.")
STOP_LEFT_NO_TRACE = M("snap.stop.consumed", "The instance is running again after the restore, so the stop that came "
                                             "before it leaves no trace.")
STILL_RUNNING = M("snap.stop.running", "The instance “{container}” is still running.")
STILL_RUNNING_HINT = M("snap.stop.running.hint", "Stop it with “incus stop {container}”: restoring a stopped instance "
                                                 "is the safe way, nothing is writing to its disk meanwhile.")

# Restore: its proof (an event, or a new generation of the very instance the attempt started with),
# what casts doubt on it, and what is not a restore.
RESTORED = M("snap.restore.ok", "The instance was restored from “{snapshot}”.")
RESTORE_EVENT = M("snap.evidence.restored_event", "Incus reported the restore of {container} from {snapshot} at "
                                                  "{time}.")
GENERATION_CHANGED = M("snap.evidence.generation", "volatile.uuid.generation changed since the start of the attempt "
                                                   "({before} → {after}): Incus changes it on every restore, and a "
                                                   "plain “rm” does not.")
INSTANCE_REPLACED = M("snap.identity.replaced", "“{container}” is not the instance the class created: it was deleted "
                                                "and created again, or another instance was renamed to this name "
                                                "(volatile.uuid {before} → {after}). Its restores cannot be proven.")
INSTANCE_REPLACED_HINT = M("snap.identity.replaced.hint", "Instance replaced: ask the trainer to look at it. Only a "
                                                          "restore seen by “labkit class status --watch” counts for "
                                                          "this instance.")
BASELINE_CHANGED = M("snap.identity.baseline_changed", "The keys user.labkit.baseline.* of “{container}” were changed "
                                                       "since the class created it (generation {before} → {after}): "
                                                       "they are not evidence, and a restore is not counted on their "
                                                       "word.")
BASELINE_CHANGED_HINT = M("snap.identity.baseline_changed.hint",
                          "Baseline changed: ask the trainer to look at it. Only a change of volatile.uuid.generation "
                          "since the class recorded it, or a restore seen by “labkit class status --watch”, proves a "
                          "restore.")
INSTANCE_RENAMED = M("snap.restore.renamed", "“{container}” was renamed to “{name}” at {time} during the attempt: what "
                                             "was done to it under another name is not seen, so its restores cannot be "
                                             "proven.")
INSTANCE_RENAMED_HINT = M("snap.restore.renamed.hint", "Instance renamed: ask the trainer to look at it. The chapter "
                                                       "never renames the instance; only a restore of “{snapshot}” "
                                                       "seen by “labkit class status --watch” or the event recorder "
                                                       "counts now.")
RESTORED_FROM_OTHER = M("snap.restore.other", "“{container}” was restored from the snapshot “{other}”, not from "
                                              "“{snapshot}”.")
RESTORED_FROM_OTHER_HINT = M("snap.restore.other.hint", "The chapter restores the snapshot taken before the file was "
                                                        "created: “incus snapshot restore {container} {snapshot}”.")
RESTORE_UNKNOWN = M("snap.unknown_start", "“{container}” was restored at some time (its volatile.uuid.generation is "
                                          "no longer its volatile.uuid, as Incus leaves it after a restore), but "
                                          "labkit knew nothing of this instance before that: it did not set it up, "
                                          "and no check was made before the snapshot. So whether the chapter's steps "
                                          "were done cannot be told now.")
GENERATION_DIFFERS = M("snap.evidence.generation_differs", "volatile.uuid {uuid}…, volatile.uuid.generation "
                                                           "{generation}….")
RESTORE_UNKNOWN_HOW = M("snap.unknown_start.how", "To have every step verified, start a new attempt from the "
                                                  "instance as it is now with “labkit reset --yes”, then follow the "
                                                  "chapter again with the event recorder running (“labkit setup” "
                                                  "starts it for an existing instance too), or check each step right "
                                                  "after doing it.")
FILE_GONE_WITHOUT_RESTORE = M("snap.restore.rm", "{path} is gone, but the instance was never restored.")
FILE_GONE_WITHOUT_RESTORE_HINT = M("snap.restore.rm.hint", "Removing the file by hand (rm) is not a restore. Create it "
                                                           "again with “incus exec {container} -- touch {path}”, stop "
                                                           "the instance, then run “incus snapshot restore {container} "
                                                           "{snapshot}”.")
NO_RESTORE_YET = M("snap.restore.missing", "The instance has not been restored from a snapshot yet.")
NO_RESTORE_YET_HINT = M("snap.restore.missing.hint", "Run “incus snapshot restore {container} {snapshot}”. Older "
                                                     "guides show “incus restore {container} {snapshot}”, which Incus "
                                                     "rejects with “unknown command \"restore\"”.")

# Start, verify: after the restore.
AFTER_RESTORE_UNKNOWN = M("snap.after_unknown", "The restore cannot be verified (see the step “{step}”), so neither "
                                                "can this step, which comes after it.")
RUNNING_AGAIN = M("snap.start.ok", "The instance “{container}” is running again after the restore.")
START_EVENT = M("snap.evidence.start_event", "Incus reported the start at {time}.")
STILL_STOPPED = M("snap.start.stopped", "The snapshot was restored, but “{container}” is still stopped.")
STILL_STOPPED_HINT = M("snap.start.stopped.hint", "A restore does not start a stopped instance. Start it with "
                                                  "“incus start {container}”.")
ABSENCE_PROVES_NOTHING = M("snap.verify.no_file_proof", "{path} is absent, but no check saw it before the restore, so "
                                                        "its absence proves nothing.")
FILE_SURVIVED_RESTORE = M("snap.verify.still_there", "{path} is still there after the restore.")
FILE_SURVIVED_RESTORE_HINT = M("snap.verify.still_there.hint", "The file survived the restore, so the snapshot "
                                                               "already contained it: it was created before the "
                                                               "snapshot was taken. Redo the chapter in order "
                                                               "(“labkit reset --yes”).")
FILE_GONE_AFTER_RESTORE = M("snap.verify.ok", "{path} is gone: the restore brought the instance back to the moment of "
                                              "the snapshot.")
FILE_ABSENT = M("snap.evidence.file_absent", "Incus reports no {path} in the running instance at {time} UTC.")

# Cleanup: the snapshot deleted, the instance kept.
SNAPSHOT_STILL_THERE = M("snap.cleanup.still_there", "The snapshot “{snapshot}” still exists.")
SNAPSHOT_STILL_THERE_HINT = M("snap.cleanup.still_there.hint",
                              "Delete it with “incus snapshot delete {container} {snapshot}”. Older guides show "
                              "“incus delete {container}/{snapshot}”, which Incus rejects (“Invalid instance name”); "
                              "“incus delete {container}” alone deletes a stopped instance without asking.")
SNAPSHOT_DELETED = M("snap.cleanup.ok", "The snapshot “{snapshot}” is deleted and “{container}” is still there.")
SNAPSHOT_DELETION_EVENT = M("snap.evidence.snapshot_deleted", "Incus reported the deletion of {snapshot} at {time}.")
SNAPSHOT_ABSENT = M("snap.evidence.no_snapshot", "No snapshot named {snapshot} at {time} UTC.")
