"""The learner-facing texts of the “container snapshots” chapter: each step's title, nudge and
solution, and the verdicts of the checks' shared evidence rules (evidence.py).  Apart from the checks
so that the chapter's wording reads in one place; the checks bind each verdict's parameters at its
use (`Message.bind`)."""
from __future__ import annotations

from ...i18n import M

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

# Start: after the restore.
START_EVENT = M("snap.evidence.start_event", "Incus reported the start at {time}.")

