"""The learner-facing texts of the “container snapshots” chapter (steps.py): each step's title,
nudge and solution.  Apart from the checks so that the chapter's wording reads in one place;
steps.py builds its steps from them and re-exports them."""
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
