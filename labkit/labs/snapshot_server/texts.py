"""The learner-facing texts of the “snapshot server” chapter (steps.py): its title, each step's
title, nudge and solution, and the reset's question; the verdicts' messages are in verdicts.py.
Apart from the checks so that the chapter's wording reads in one place."""
from __future__ import annotations

from ...i18n import M

# Incus' template for a dated name (pongo2): a parameter of the messages, so that no catalogue holds braces.
DATE_BLOCK = "{{ creation_date|date:'2006-01-02_15-04-05' }}"

CHAPTER_TITLE = M("snapsrv.title", "The snapshot server")

TITLES = {
    "remote": M("snapsrv.title.remote", "Add the snapshot server as a remote"),
    "snapshot": M("snapsrv.title.snapshot", "Take a snapshot"),
    "copy": M("snapsrv.title.copy", "Copy the snapshot to the snapshot server"),
    "autostart": M("snapsrv.title.autostart", "Keep the copy from starting at boot"),
    "schedule": M("snapsrv.title.schedule", "Schedule snapshots"),
    "pattern": M("snapsrv.title.pattern", "Name snapshots by their date"),
    "expiry": M("snapsrv.title.expiry", "Let snapshots expire"),
    "refresh": M("snapsrv.title.refresh", "Refresh the copy"),
}
NUDGES = {
    "remote": M("snapsrv.nudge.remote", "Remote servers are managed with “incus remote”; the trust token comes from "
                                        "the snapshot server (“labkit setup --snapshot-server” prints the whole "
                                        "command)."),
    "snapshot": M("snapsrv.nudge.snapshot", "Snapshots have their own family of commands: look at "
                                            "“incus snapshot --help”."),
    "copy": M("snapsrv.nudge.copy", "“incus copy” takes a source and a target: the source can be a snapshot "
                                    "(INSTANCE/SNAPSHOT), the target can be on a remote (REMOTE:NAME)."),
    "autostart": M("snapsrv.nudge.autostart", "Whether an instance starts with its server is the key boot.autostart; "
                                              "“incus config set” works on a remote's instances too."),
    "schedule": M("snapsrv.nudge.schedule", "Automatic snapshots are the instance's key snapshots.schedule, written "
                                            "like a cron line."),
    "pattern": M("snapsrv.nudge.pattern", "The names of automatic snapshots come from the key snapshots.pattern, a "
                                          "template that can use creation_date."),
    "expiry": M("snapsrv.nudge.expiry", "How long snapshots live is the key snapshots.expiry."),
    "refresh": M("snapsrv.nudge.refresh", "Take a new snapshot, then bring the copy up to date with "
                                          "“incus copy --refresh”: look at “incus copy --help”."),
}
SOLUTIONS = {
    "remote": M("snapsrv.solution.remote", "Run the line “labkit setup --snapshot-server” printed: "
                                           "“incus remote add {remote} ADDRESS --token TOKEN --accept-certificate”."),
    "snapshot": M("snapsrv.solution.snapshot", "Run “incus snapshot create {container} {snapshot}”."),
    "copy": M("snapsrv.solution.copy", "Run “incus copy {container}/{snapshot} {remote}:{container}”."),
    "autostart": M("snapsrv.solution.autostart", "Run “incus config set {remote}:{container} boot.autostart=false”."),
    "schedule": M("snapsrv.solution.schedule",
                  "Run “incus config set {container} snapshots.schedule=\"50 20 * * *\"”."),
    "pattern": M("snapsrv.solution.pattern",
                 "Run “incus config set {container} snapshots.pattern=\"{container}-{block}\"”.", block=DATE_BLOCK),
    "expiry": M("snapsrv.solution.expiry", "Run “incus config set {container} snapshots.expiry=1d”."),
    "refresh": M("snapsrv.solution.refresh", "Run “incus snapshot create {container}”, then "
                                             "“incus copy --refresh {container} {remote}:{container}”, then "
                                             "“incus config set {remote}:{container} boot.autostart=false”."),
}
RESET_QUESTION = M("snapsrv.reset.confirm", "This deletes the copy {container} on the snapshot server, every snapshot "
                                            "of {container}, and its keys boot.autostart, snapshots.schedule, "
                                            "snapshots.pattern and snapshots.expiry, and starts a new attempt. Your "
                                            "remote {remote} stays. Continue?")
