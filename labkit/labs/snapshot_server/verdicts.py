"""The verdicts' messages of the “snapshot server” chapter: what each check says when a step passed,
failed or cannot be verified, its hint or how to have it verified, and the evidence it shows.  Apart
from the checks so that the chapter's wording reads in one place, with texts.py (the steps' titles,
nudges and solutions).

Each is a template without what the check found: the check binds it, with the chapter's names
(`NO_COPY.bind(**msg_params(ctx))`).
"""
from __future__ import annotations

from ...i18n import M
from .texts import DATE_BLOCK

# -- Any step (evidence.py): the step to do first, the main instance gone --------------------------
DO_FIRST = M("snapsrv.do_first", "Do the step “{step}” first: this one builds on it.")
INSTANCE_GONE = M("snapsrv.instance_gone", "The instance “{container}” no longer exists on the main server.")
INSTANCE_GONE_HINT = M("snapsrv.instance_gone.hint",
                       "Create it again with “labkit --lab snapshot-server setup”, then start the chapter over with "
                       "“labkit --lab snapshot-server reset --yes”.")

# -- 1. remote: the learner's remote, the snapshot server's trust (steps.py) -----------------------
TRUSTED_CERTIFICATE = M("snapsrv.evidence.trusted",
                        "The snapshot server trusts the certificate {fingerprint}… (“{name}”).")
CLIENT_CONFIG_UNREADABLE = M("snapsrv.remote.config_unreadable",
                             "labkit cannot read your Incus client configuration, so it cannot see your remote "
                             "“{remote}” ({error}).")
CLIENT_CONFIG_UNREADABLE_HINT = M("snapsrv.remote.config_unreadable.hint",
                                  "The file config.yml in your Incus client folder (INCUS_CONF, or ~/.config/incus) is "
                                  "written by incus itself: it must be a small text file. Put back the one incus "
                                  "wrote, or remove it and add the remote again: "
                                  "“incus remote add {remote} ADDRESS --token TOKEN --accept-certificate”.")
SERVER_TRUSTS_YOU = M("snapsrv.remote.ok_server", "The snapshot server trusts your certificate.")
REMOTE_OK = M("snapsrv.remote.ok", "The remote “{remote}” points at the snapshot server, which trusts your "
                                   "certificate.")
REMOTE_ADDRESS = M("snapsrv.evidence.remote", "Remote {remote}: {addr}.")
REMOTE_WRONG_ADDRESS = M("snapsrv.remote.wrong_address",
                         "Your remote “{remote}” points at {addr}, which is not the snapshot server ({server}).")
REMOTE_WRONG_ADDRESS_HINT = M("snapsrv.remote.wrong_address.hint",
                              "Remove it with “incus remote remove {remote}”, then add it again with the address and "
                              "token that “labkit setup --snapshot-server” printed.")
REMOTE_OTHER_NAME = M("snapsrv.remote.other_name",
                      "Your remote for the snapshot server is named “{found}”, not “{remote}”.")
REMOTE_OTHER_NAME_HINT = M("snapsrv.remote.other_name.hint",
                           "The chapter's commands use the name “{remote}”. Rename yours: "
                           "“incus remote rename {found} {remote}”.")
TOKEN_USED_ELSEWHERE = M("snapsrv.remote.elsewhere",
                         "Your token was used, but by another Incus client than yours: your client has no trusted "
                         "remote for the snapshot server.")
TOKEN_USED_ELSEWHERE_HINT = M("snapsrv.remote.elsewhere.hint",
                              "The remote was probably added as another user (sudo) or with another INCUS_CONF. Add it "
                              "as the user who does the lab; a token works once, so ask for a new one "
                              "(“labkit setup --snapshot-server” shows it once the old certificate is removed: "
                              "“incus config trust remove FINGERPRINT” on the snapshot server).")
NO_REMOTE = M("snapsrv.remote.missing", "Your Incus client has no remote “{remote}” trusted by the snapshot server "
                                        "yet.")
NO_REMOTE_HINT = M("snapsrv.remote.missing.hint",
                   "Run the command that “labkit setup --snapshot-server” printed: "
                   "“incus remote add {remote} ADDRESS --token TOKEN --accept-certificate”. Without --token, incus "
                   "asks for a trust token and stops.")

# -- 2. snapshot (steps.py) ------------------------------------------------------------------------
SNAPSHOT_OK = M("snapsrv.snapshot.ok", "The snapshot “{snapshot}” of “{container}” exists.")
SNAPSHOT_CREATED = M("snapsrv.evidence.snapshot", "Snapshot {snapshot} created at {time} UTC.")
SNAPSHOT_EXPIRED = M("snapsrv.snapshot.expired",
                     "The snapshot “{snapshot}” is gone: snapshots.expiry deletes old snapshots.")
SNAPSHOT_EXPIRED_HOW = M("snapsrv.expired.how", "labkit can verify it only while it exists: take a new snapshot "
                                                "(“incus snapshot create {container} {snapshot}”) and check this step "
                                                "again.")
SNAPSHOT_WRONG_NAME = M("snapsrv.snapshot.wrong_name",
                        "There is no snapshot named “{snapshot}”, but “{container}” has: {found}.")
SNAPSHOT_WRONG_NAME_HINT = M("snapsrv.snapshot.wrong_name.hint",
                             "The chapter copies the snapshot “{snapshot}”: create it with "
                             "“incus snapshot create {container} {snapshot}” (or rename yours with "
                             "“incus snapshot rename {container} {first} {snapshot}”).")
NO_SNAPSHOT = M("snapsrv.snapshot.missing", "“{container}” has no snapshot yet.")
NO_SNAPSHOT_HINT = M("snapsrv.snapshot.missing.hint",
                     "Run “incus snapshot create {container} {snapshot}”. Older guides show "
                     "“incus snapshot {container} {snapshot}”, which Incus rejects with “unknown command”: snapshot "
                     "commands are now subcommands (create, list, restore, delete…).")

# -- 3. copy: how the copy on the snapshot server was made (copies.py) -----------------------------
NOT_A_COPY = M("snapsrv.copy.not_a_copy", "The instance “{container}” on the snapshot server is not a copy of your "
                                          "“{container}”: it was created from an image, or copied from another "
                                          "instance.")
NOT_A_COPY_HINT = M("snapsrv.copy.not_a_copy.hint",
                    "Delete it (“incus delete {remote}:{container}”) and copy your snapshot: "
                    "“incus copy {container}/{snapshot} {remote}:{container}”.")
MIGRATED_WHOLE = M("snapsrv.evidence.migrated_whole",
                   "Incus reported at {time} the copy of the whole instance {container}.")
COPIED_OTHER_SNAPSHOT = M("snapsrv.copy.other_snapshot",
                          "The copy was made from the snapshot “{found}”, not from “{snapshot}”.")
COPIED_OTHER_SNAPSHOT_HINT = M("snapsrv.copy.other_snapshot.hint",
                               "Delete the copy (“incus delete {remote}:{container}”) and copy “{snapshot}”: "
                               "“incus copy {container}/{snapshot} {remote}:{container}”.")
COPY_OK = M("snapsrv.copy.ok", "“{container}” on the snapshot server is a copy of your snapshot “{snapshot}”.")
MIGRATED_SNAPSHOT = M("snapsrv.evidence.migrated", "Incus reported at {time} the copy of {container}/{snapshot}.")
COPY_REFRESHED_SINCE = M("snapsrv.copy.refreshed",
                         "The copy has been refreshed since it was made: the refresh replaced what showed how it was "
                         "first made.")
COPY_HOLDS_SNAPSHOTS = M("snapsrv.evidence.copied_snapshots", "The copy holds snapshots of {container}: {found}.")
COPY_STARTED_SINCE = M("snapsrv.copy.started", "The copy has been started since it was made (volatile.apply_template "
                                               "is gone), so how it was made can no longer be seen.")
COPY_REPORT_GONE = M("snapsrv.copy.unseen", "No report of the copy by the main server is in the journal any more.")
COPY_NOT_SEEN = M("snapsrv.copy.not_seen", "labkit did not see “{container}” on the snapshot server being copied from "
                                           "your instance: the main server's report of a copy (its instance-migrated "
                                           "event) is seen only by a listener, and none recorded it. Its keys alone "
                                           "prove nothing, and do not say it is wrong either.")
COPY_NOT_SEEN_HOW = M("snapsrv.copy.not_seen.how",
                      "Go on with the chapter. To have a copy seen, make it while a listener runs: the event recorder "
                      "(“labkit --lab snapshot-server setup” leaves it running), “labkit --lab snapshot-server watch” "
                      "in another terminal, or the notebook.")
WHOLE_INSTANCE_COPIED = M("snapsrv.copy.whole", "The whole instance “{container}” was copied, not its snapshot "
                                                "“{snapshot}”.")
WHOLE_INSTANCE_COPIED_HINT = M("snapsrv.copy.whole.hint",
                               "The chapter copies one snapshot: delete the copy "
                               "(“incus delete {remote}:{container}”), then run "
                               "“incus copy {container}/{snapshot} {remote}:{container}” (the name after the slash is "
                               "the snapshot's).")
COPY_OTHER_NAME = M("snapsrv.copy.other_name", "The snapshot server has a copy named “{found}”, not “{container}”.")
COPY_OTHER_NAME_HINT = M("snapsrv.copy.other_name.hint",
                         "The copy keeps the instance's name. Rename it: "
                         "“incus move {remote}:{found} {remote}:{container}”.")
NO_COPY = M("snapsrv.copy.missing", "There is no instance “{container}” on the snapshot server yet.")
NO_COPY_HINT = M("snapsrv.copy.missing.hint", "Run “incus copy {container}/{snapshot} {remote}:{container}”. If incus "
                                              "answers “The source server isn't listening on the network”, ask for "
                                              "“labkit setup --snapshot-server” again, or add “--mode push”.")

# -- 4. autostart: the copy's boot.autostart (steps.py) --------------------------------------------
AUTOSTART_ON_PRIMARY = M("snapsrv.autostart.on_primary",
                         "boot.autostart is false on your main instance “{container}”: it will no longer start when "
                         "its server boots.")
AUTOSTART_ON_PRIMARY_HINT = M("snapsrv.autostart.on_primary.hint",
                              "It belongs on the copy. Undo it with “incus config unset {container} boot.autostart”, "
                              "then run “incus config set {remote}:{container} boot.autostart=false”.")
AUTOSTART_OK = M("snapsrv.autostart.ok", "The copy on the snapshot server will not start when that server boots.")
AUTOSTART_SEEN = M("snapsrv.evidence.autostart", "boot.autostart={value} on {remote}:{container} at {time} UTC.")
AUTOSTART_LOST = M("snapsrv.autostart.lost", "The copy was refreshed, and the refresh gave it your main instance's "
                                             "configuration: boot.autostart is no longer false on it, so it would "
                                             "start with the snapshot server.")
AUTOSTART_LOST_HINT = M("snapsrv.autostart.lost.hint",
                        "Every “incus copy --refresh” writes your main instance's configuration over the copy's: set "
                        "the key again after each refresh, "
                        "“incus config set {remote}:{container} boot.autostart=false”.")
NO_AUTOSTART = M("snapsrv.autostart.missing", "boot.autostart is not false on the copy “{remote}:{container}”.")
NO_AUTOSTART_HINT = M("snapsrv.autostart.missing.hint",
                      "Run “incus config set {remote}:{container} boot.autostart=false”: the copy is a spare, it must "
                      "not start with the snapshot server.")

# -- 5. snapshots.schedule on the main instance (steps.py) -----------------------------------------
SCHEDULE_NEVER = M("snapsrv.schedule.never", "snapshots.schedule=“{value}” never takes a snapshot.")
SCHEDULE_NEVER_HINT = M("snapsrv.schedule.never.hint",
                        "Incus accepts “@never” and dates that do not exist (such as 31 February), but nothing is ever "
                        "taken. Run “incus config set {container} snapshots.schedule=\"50 20 * * *\"” "
                        "(every day at 20:50).")
SCHEDULE_STARTUP_ONLY = M("snapsrv.schedule.startup",
                          "snapshots.schedule=“{value}” takes a snapshot only when “{container}” starts: a server that "
                          "keeps running for weeks takes none, not one every day as the chapter asks.")
SCHEDULE_STARTUP_ONLY_HINT = M("snapsrv.schedule.startup.hint",
                               "Give a time of day as well: "
                               "“incus config set {container} snapshots.schedule=\"50 20 * * *\"” (every day at "
                               "20:50), or “@startup, 50 20 * * *” to keep the snapshot at each start too.")
SCHEDULE_OK = M("snapsrv.schedule.ok", "“{container}” takes snapshots on its own: snapshots.schedule=“{value}”.")
SCHEDULE_ON_COPY = M("snapsrv.schedule.on_copy",
                     "snapshots.schedule is set on the copy, not on your main instance “{container}”.")
SCHEDULE_ON_COPY_HINT = M("snapsrv.schedule.on_copy.hint",
                          "The snapshots are taken on the main instance: "
                          "“incus config unset {remote}:{container} snapshots.schedule”, then "
                          "“incus config set {container} snapshots.schedule=\"50 20 * * *\"”.")
NO_SCHEDULE = M("snapsrv.schedule.missing", "“{container}” has no snapshots.schedule.")
NO_SCHEDULE_HINT = M("snapsrv.schedule.missing.hint",
                     "Run “incus config set {container} snapshots.schedule=\"50 20 * * *\"” (minute, hour, day of "
                     "month, month, day of week: every day at 20:50). Incus refuses an invalid schedule: "
                     "“Error parsing schedule: end of range (61) above maximum (59)” means a number is out of range, "
                     "“Schedule must be of the form…” means five fields are needed.")

# -- 6. snapshots.pattern on the main instance (steps.py); the hint most failures share ------------
PATTERN_HINT = M("snapsrv.pattern.hint",
                 "Run “incus config set {container} snapshots.pattern=\"{container}-{block}\"”: each block {empty} is "
                 "closed, creation_date is the snapshot's date, and the date filter's layout uses Go's reference date.",
                 block=DATE_BLOCK, empty="{{ … }}")
PATTERN_ON_COPY = M("snapsrv.pattern.on_copy", "snapshots.pattern is set on the copy, not on your main instance "
                                               "“{container}”.")
PATTERN_ON_COPY_HINT = M("snapsrv.pattern.on_copy.hint",
                         "Unset it there (“incus config unset {remote}:{container} snapshots.pattern”) and set it on "
                         "“{container}”.")
NO_PATTERN = M("snapsrv.pattern.missing", "“{container}” has no snapshots.pattern: its automatic snapshots would be "
                                          "named snap0, snap1…")
PATTERN_OK = M("snapsrv.pattern.ok", "New snapshots of “{container}” are named by their date: "
                                     "snapshots.pattern=“{value}”.")
PATTERN_WITHOUT_DATE = M("snapsrv.pattern.no_date", "snapshots.pattern=“{value}” puts no date in the snapshots' names.")
PATTERN_BAD_CHARACTERS = M("snapsrv.pattern.characters",
                           "snapshots.pattern=“{value}” makes names with a space or a slash, which Incus refuses: "
                           "“incus snapshot create {container}” would fail (“Cannot contain space or / characters”).")
PATTERN_PARTIAL_DATE = M("snapsrv.pattern.partial",
                         "snapshots.pattern=“{value}” puts only part of a date in the snapshots' names: it needs the "
                         "year, the month and the day.")
PATTERN_LITERAL_LAYOUT = M("snapsrv.pattern.layout",
                           "snapshots.pattern=“{value}” writes its date layout literally: every snapshot would get the "
                           "same name.")
PATTERN_LITERAL_LAYOUT_HINT = M("snapsrv.pattern.layout.hint",
                                "The date filter takes a Go layout, written with the reference date: 2006 for the "
                                "year, 01 the month, 02 the day, 15-04-05 the time. For example "
                                "“incus config set {container} snapshots.pattern=\"{container}-{block}\"”.",
                                block=DATE_BLOCK)
PATTERN_MALFORMED = M("snapsrv.pattern.malformed",
                      "snapshots.pattern=“{value}” is not a valid template. Incus accepted it, but "
                      "“incus snapshot create {container}” would fail (“{error}”).", error="'}}' expected")

# -- 7. snapshots.expiry on the main instance (steps.py) -------------------------------------------
EXPIRY_ZERO = M("snapsrv.expiry.zero", "snapshots.expiry={value} makes every new snapshot expire the moment it is "
                                       "taken.")
EXPIRY_ZERO_HINT = M("snapsrv.expiry.zero.hint",
                     "Give snapshots time to live: “incus config set {container} snapshots.expiry=1d”.")
EXPIRY_OK = M("snapsrv.expiry.ok", "New snapshots of “{container}” expire: snapshots.expiry={value}.")
EXPIRY_ON_COPY = M("snapsrv.expiry.on_copy", "snapshots.expiry is set on the copy, not on your main instance "
                                             "“{container}”.")
EXPIRY_ON_COPY_HINT = M("snapsrv.expiry.on_copy.hint",
                        "Unset it there (“incus config unset {remote}:{container} snapshots.expiry”) and run "
                        "“incus config set {container} snapshots.expiry=1d”.")
NO_EXPIRY = M("snapsrv.expiry.missing", "“{container}” has no snapshots.expiry: its snapshots would pile up.")
NO_EXPIRY_HINT = M("snapsrv.expiry.missing.hint",
                   "Run “incus config set {container} snapshots.expiry=1d” (a number and a unit: 1H, 1d, 1w, 1m, 1y). "
                   "“Invalid expiry expression” means another form, such as “1 day”.")

# -- 8. refresh: the copy brought up to date (copies.py); the two hints several failures share -----
REFRESH_HINT = M("snapsrv.refresh.hint", "Run “incus copy --refresh {container} {remote}:{container}” (the whole "
                                         "instance: “--refresh can only be used with instances”), then "
                                         "“incus config set {remote}:{container} boot.autostart=false” again. A copy "
                                         "without --refresh fails with “UNIQUE constraint failed”: the copy exists "
                                         "already.")
NEW_SNAPSHOT_HINT = M("snapsrv.refresh.new_snapshot.hint",
                      "Take a snapshot named by your pattern: “incus snapshot create {container}” (no name), then "
                      "“incus copy --refresh {container} {remote}:{container}” and "
                      "“incus config set {remote}:{container} boot.autostart=false” again.")
REFRESHED_WITH_NEW_SNAPSHOT = M("snapsrv.refresh.ok_brought",
                                "The copy was refreshed: it received “{found}”, a snapshot newer than the one it was "
                                "made from.")
COPY_HAS_PRIMARY_UUID = M("snapsrv.evidence.refresh_uuid",
                          "The copy's volatile.uuid is now the main instance's ({uuid}…), as a refresh from it leaves "
                          "it.")
SNAPSHOT_BROUGHT = M("snapsrv.evidence.refresh_brought",
                     "Snapshot {found} taken at {time} UTC, brought to the copy by Incus (its time there is cut to the "
                     "second).")
REFRESH_EXPIRED = M("snapsrv.refresh.expired", "The copy was refreshed, but the snapshot that proved it is gone: "
                                               "snapshots.expiry deletes old snapshots.")
REFRESH_EXPIRED_HOW = M("snapsrv.refresh.expired.how",
                        "To have it verified, take a new snapshot (“incus snapshot create {container}”), refresh the "
                        "copy again (“incus copy --refresh {container} {remote}:{container}”) and check this step; "
                        "then set boot.autostart=false on the copy again.")
SNAPSHOT_MADE_ON_COPY = M("snapsrv.refresh.snapshot_on_copy",
                          "The copy's snapshot “{found}” was taken on the snapshot server itself, not brought from "
                          "“{container}” by a refresh.")
SNAPSHOT_MADE_ON_COPY_HINT = M("snapsrv.refresh.snapshot_on_copy.hint",
                               "A refresh brings the main instance's new snapshots to the copy. Delete that one "
                               "(“incus snapshot delete {remote}:{container} {found}”), then run "
                               "“incus copy --refresh {container} {remote}:{container}” and "
                               "“incus config set {remote}:{container} boot.autostart=false” again.")
REFRESHED_BEFORE_SNAPSHOT = M("snapsrv.refresh.before_snapshot",
                              "The copy was refreshed before the snapshot “{found}” was taken, so it does not have it.")
REFRESH_BROUGHT_NOTHING = M("snapsrv.refresh.nothing_new",
                            "The copy was refreshed, but “{container}” has no snapshot newer than “{snapshot}”, the "
                            "one the copy was made from: the refresh brought nothing new.")
NOT_REFRESHED = M("snapsrv.refresh.not_refreshed",
                  "“{container}” has a newer snapshot (“{found}”), but the copy was not refreshed.")
RECOPIED = M("snapsrv.refresh.recopied", "The copy on the snapshot server was made at {made} UTC, after the snapshot "
                                         "“{found}”: it was copied again, not refreshed.")
RECOPIED_HINT = M("snapsrv.refresh.recopied.hint",
                  "A refresh updates the existing copy: take a new snapshot (“incus snapshot create {container}”), "
                  "then run “incus copy --refresh {container} {remote}:{container}”, and "
                  "“incus config set {remote}:{container} boot.autostart=false” again.")
NO_NEW_SNAPSHOT = M("snapsrv.refresh.no_new_snapshot", "“{container}” has no snapshot newer than the copy yet.")
