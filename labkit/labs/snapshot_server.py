"""The “snapshot server” chapter: copy a snapshot to a second Incus server, schedule snapshots,
refresh the copy.

Evidence rules (docs/second-lab-facts.md): only what a learner cannot write counts — the
snapshot server's trust store, snapshot lists and their times (a snapshot that came by
migration has whole seconds), instances' created_at, and lifecycle events a listener saw.
Incus lets a client write the volatile.* keys it knows (`incus config set C volatile.uuid=…`
works, with the certificate the learner has on the snapshot server too): they name
near-misses, they never prove a step.  The learner's config.yml only names remotes.
The observation is `snapshot_server_observe.ServerObservation`; checks are pure.
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..grading.engine import Chapter, Context, Event, Status, Step, Verdict, consumed, failed, passed
from ..i18n import M, Message
from .snapshot_server_keys import expiry_is_zero, pattern_problem, schedule_never_fires

# The name `labkit setup --snapshot-server` gives the learner's token (snapshot_server.LEARNER_NAME):
# the certificate made from it carries it in the server's trust store.
LEARNER_NAME = "learner"
FALSE = ("false", "0", "no", "off")
# Incus' template for a dated name (pongo2): a parameter of the messages, so that no catalogue holds braces.
DATE_BLOCK = "{{ creation_date|date:'2006-01-02_15-04-05' }}"
# Names listed in a message: a learner may make thousands of snapshots.
SHOWN = 5


def _p(ctx: Context, **more: str) -> dict[str, str]:
    return {"container": ctx.params["container"], "snapshot": ctx.params["snapshot"],
            "remote": ctx.params["remote"], **more}


def _not_done(ctx: Context, step_id: str) -> bool:
    result = ctx.earlier.get(step_id)
    return result is not None and result.status is Status.FAILED


def _first(ctx: Context, step_id: str) -> Verdict:
    return failed(M("snapsrv.do_first", "Do the step “{step}” first: this one builds on it.", step=TITLES[step_id]),
                  NUDGES[step_id].bind(**_p(ctx)), f"order:{step_id}")


def _gone(ctx: Context) -> Verdict | None:
    if ctx.observation.primary is not None:
        return None
    return failed(M("snapsrv.instance_gone", "The instance “{container}” no longer exists on the main server.", **_p(ctx)),
                  M("snapsrv.instance_gone.hint", "Create it again with “labkit --lab snapshot-server setup”, then start the chapter over with “labkit --lab snapshot-server reset --yes”.", **_p(ctx)),
                  "instance_deleted")


def _refreshed(ctx: Context) -> bool:
    """The copy bears the primary's volatile.uuid, as `incus copy --refresh` from it leaves it.  A client
    can write that key too: a sign that names near-misses and taken evidence, never a proof."""
    obs = ctx.observation
    return bool(obs.copy and obs.primary and obs.copy.uuid and obs.copy.uuid == obs.primary.uuid)


def _names(items) -> str:
    names = [s.name for s in items]
    return ", ".join(names[:SHOWN]) + (", …" if len(names) > SHOWN else "")


def _hms(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%H:%M:%S") if value else "?"


# -- 1. remote ---------------------------------------------------------------
def check_remote(ctx: Context) -> Verdict:
    obs, name = ctx.observation, ctx.params["remote"]
    learner = ctx.params.get("learner") or LEARNER_NAME
    mine = next((c for c in obs.trusted if obs.client_fingerprint and c.fingerprint == obs.client_fingerprint), None)
    by_token = next((c for c in obs.trusted if c.type == "client" and c.name == learner), None)
    trust = M("snapsrv.evidence.trusted", "The snapshot server trusts the certificate {fingerprint}… (“{name}”).",
              fingerprint=(mine or by_token).fingerprint[:12], name=(mine or by_token).name) if (mine or by_token) else None
    if obs.client_error is not None:  # there, but not readable: not a class view, the remotes are unknown
        return failed(M("snapsrv.remote.config_unreadable", "labkit cannot read your Incus client configuration, so it cannot see your remote “{remote}” ({error}).", error=obs.client_error, **_p(ctx)),
                      M("snapsrv.remote.config_unreadable.hint", "The file config.yml in your Incus client folder (INCUS_CONF, or ~/.config/incus) is written by incus itself: it must be a small text file. Put back the one incus wrote, or remove it and add the remote again: “incus remote add {remote} ADDRESS --token TOKEN --accept-certificate”.", **_p(ctx)),
                      "client_config_unreadable", trust)
    if obs.remotes is None:  # no client config to read (a class view): the server's word only
        if trust is not None:
            return passed(M("snapsrv.remote.ok_server", "The snapshot server trusts your certificate.", **_p(ctx)), trust)
        return _no_remote(ctx)
    named = next((r for r in obs.remotes if r.name == name), None)
    ours = obs.remote_for_server()
    # Without a readable client.crt, the token's name is the only link between the learner and a trust.
    trusted = mine is not None or (by_token is not None and obs.client_fingerprint is None)
    if named is not None and named in ours and trusted:
        return passed(M("snapsrv.remote.ok", "The remote “{remote}” points at the snapshot server, which trusts your certificate.", **_p(ctx)),
                      trust, M("snapsrv.evidence.remote", "Remote {remote}: {addr}.", addr=named.addr, **_p(ctx)))
    if named is not None and named not in ours:
        return failed(M("snapsrv.remote.wrong_address", "Your remote “{remote}” points at {addr}, which is not the snapshot server ({server}).", addr=named.addr, server=", ".join(obs.server_addresses) or "?", **_p(ctx)),
                      M("snapsrv.remote.wrong_address.hint", "Remove it with “incus remote remove {remote}”, then add it again with the address and token that “labkit setup --snapshot-server” printed.", **_p(ctx)),
                      "remote_wrong_address")
    others = [r for r in ours if r.name != name]
    if others and trusted:
        return failed(M("snapsrv.remote.other_name", "Your remote for the snapshot server is named “{found}”, not “{remote}”.", found=others[0].name, **_p(ctx)),
                      M("snapsrv.remote.other_name.hint", "The chapter's commands use the name “{remote}”. Rename yours: “incus remote rename {found} {remote}”.", found=others[0].name, **_p(ctx)),
                      "remote_other_name", trust)
    if by_token and not mine:
        return failed(M("snapsrv.remote.elsewhere", "Your token was used, but by another Incus client than yours: your client has no trusted remote for the snapshot server.", **_p(ctx)),
                      M("snapsrv.remote.elsewhere.hint", "The remote was probably added as another user (sudo) or with another INCUS_CONF. Add it as the user who does the lab; a token works once, so ask for a new one (“labkit setup --snapshot-server” shows it once the old certificate is removed: “incus config trust remove FINGERPRINT” on the snapshot server).", **_p(ctx)),
                      "token_used_elsewhere", trust)
    return _no_remote(ctx)


def _no_remote(ctx: Context) -> Verdict:
    return failed(M("snapsrv.remote.missing", "Your Incus client has no remote “{remote}” trusted by the snapshot server yet.", **_p(ctx)),
                  M("snapsrv.remote.missing.hint", "Run the command that “labkit setup --snapshot-server” printed: “incus remote add {remote} ADDRESS --token TOKEN --accept-certificate”. Without --token, incus asks for a trust token and stops.", **_p(ctx)),
                  "no_remote")


# -- 2. snapshot -------------------------------------------------------------
def check_snapshot(ctx: Context) -> Verdict:
    if (gone := _gone(ctx)) is not None:
        return gone
    primary = ctx.observation.primary
    snap = primary.snapshot(ctx.params["snapshot"])
    if snap is not None:
        return passed(M("snapsrv.snapshot.ok", "The snapshot “{snapshot}” of “{container}” exists.", **_p(ctx)),
                      M("snapsrv.evidence.snapshot", "Snapshot {snapshot} created at {time} UTC.", time=_hms(snap.created_at), **_p(ctx)))
    if "snapshot" in ctx.history.passed and primary.key("snapshots.expiry"):
        return consumed(M("snapsrv.snapshot.expired", "The snapshot “{snapshot}” is gone: snapshots.expiry deletes old snapshots.", **_p(ctx)))
    if primary.snapshots:
        found = _names(primary.snapshots)
        return failed(M("snapsrv.snapshot.wrong_name", "There is no snapshot named “{snapshot}”, but “{container}” has: {found}.", found=found, **_p(ctx)),
                      M("snapsrv.snapshot.wrong_name.hint", "The chapter copies the snapshot “{snapshot}”: create it with “incus snapshot create {container} {snapshot}” (or rename yours with “incus snapshot rename {container} {first} {snapshot}”).", first=primary.snapshots[0].name, **_p(ctx)),
                      "wrong_snapshot_name")
    return failed(M("snapsrv.snapshot.missing", "“{container}” has no snapshot yet.", **_p(ctx)),
                  M("snapsrv.snapshot.missing.hint", "Run “incus snapshot create {container} {snapshot}”. Older guides show “incus snapshot {container} {snapshot}”, which Incus rejects with “unknown command”: snapshot commands are now subcommands (create, list, restore, delete…).", **_p(ctx)),
                  "no_snapshot")


# -- 3. copy -------------------------------------------------------------------
def _copy_event(ctx: Context) -> Event | None:
    """The main server's `instance-migrated` that made the copy: the first one after the copy's creation.
    Its source ends in “/<snapshot>” (context “snapshot”) for a copy of a snapshot, not for a whole copy."""
    made = ctx.observation.copy.created_at
    if made is None:
        return None
    moves = sorted((e for e in ctx.history.events if e.action == "instance-migrated"), key=lambda e: e.time)
    # The event comes when the transfer ends, after the copy's created_at (when it began): an
    # earlier one is about a copy deleted since, even a second before (both servers share a clock
    # on a lab machine; a real second server's clock must be in step with the main one's).
    return next((e for e in moves if e.time >= made), None)


def check_copy(ctx: Context) -> Verdict:
    if (gone := _gone(ctx)) is not None:
        return gone
    obs = ctx.observation
    copy, primary = obs.copy, obs.primary
    if copy is None:
        return _no_copy(ctx)
    base = primary.key("volatile.base_image")
    if copy.key("volatile.apply_template") == "create" or (base and copy.key("volatile.base_image") != base):
        return failed(M("snapsrv.copy.not_a_copy", "The instance “{container}” on the snapshot server is not a copy of your “{container}”: it was created from an image, or copied from another instance.", **_p(ctx)),
                      M("snapsrv.copy.not_a_copy.hint", "Delete it (“incus delete {remote}:{container}”) and copy your snapshot: “incus copy {container}/{snapshot} {remote}:{container}”.", **_p(ctx)),
                      "not_a_copy")
    event = _copy_event(ctx)
    if event is not None:
        source = str(event.context.get("snapshot") or "")
        if not source:
            return _whole(ctx, M("snapsrv.evidence.migrated_whole", "Incus reported at {time} the copy of the whole instance {container}.", time=_hms(event.time), **_p(ctx)))
        if source != f"{ctx.params['container']}/{ctx.params['snapshot']}":
            return failed(M("snapsrv.copy.other_snapshot", "The copy was made from the snapshot “{found}”, not from “{snapshot}”.", found=source.split("/", 1)[-1], **_p(ctx)),
                          M("snapsrv.copy.other_snapshot.hint", "Delete the copy (“incus delete {remote}:{container}”) and copy “{snapshot}”: “incus copy {container}/{snapshot} {remote}:{container}”.", **_p(ctx)),
                          "copied_other_snapshot")
        return passed(M("snapsrv.copy.ok", "“{container}” on the snapshot server is a copy of your snapshot “{snapshot}”.", **_p(ctx)),
                      M("snapsrv.evidence.migrated", "Incus reported at {time} the copy of {container}/{snapshot}.", time=_hms(event.time), **_p(ctx)))
    if _refreshed(ctx):
        return consumed(M("snapsrv.copy.refreshed", "The copy has been refreshed since: the refresh replaced what showed how it was first made.", **_p(ctx)))
    shared = [s for s in copy.snapshots if _same_snapshot(primary.snapshot(s.name), s)]
    if shared:
        return _whole(ctx, M("snapsrv.evidence.copied_snapshots", "The copy holds snapshots of {container}: {found}.", found=_names(shared), **_p(ctx)))
    if copy.key("volatile.apply_template") != "copy":
        return consumed(M("snapsrv.copy.started", "The copy was started since (volatile.apply_template is gone), so how it was made can no longer be seen.", **_p(ctx)))
    if "copy" in ctx.history.passed:
        return consumed(M("snapsrv.copy.unseen", "No report of the copy by the main server is in the journal any more.", **_p(ctx)))
    # What is left (volatile.apply_template=copy, the image's volatile.base_image, no snapshots) a
    # client can write: `incus create --empty` and `incus config set … volatile.apply_template=copy`.
    return failed(M("snapsrv.copy.not_seen", "labkit did not see “{container}” on the snapshot server being copied from your instance: the main server reported no copy after it was created, and its keys alone do not prove it.", **_p(ctx)),
                  M("snapsrv.copy.not_seen.hint", "labkit knows a copy by the main server's report of it, which the event recorder keeps (“labkit --lab snapshot-server setup” starts it for this lab; or keep “labkit --lab snapshot-server watch” running, or work in the notebook). With one of them running, delete the copy (“incus delete {remote}:{container}”) and copy again: “incus copy {container}/{snapshot} {remote}:{container}”.", **_p(ctx)),
                  "copy_not_seen")


def _same_snapshot(source, copied) -> bool:
    """`copied` came from `source` by migration: Incus cut its time to whole seconds on the way;
    a snapshot taken on the copy by hand, even in the same second, keeps its fraction."""
    return source is not None and source.created_at is not None and copied is not None \
        and copied.created_at is not None and copied.whole_second \
        and int(source.created_at.timestamp()) == int(copied.created_at.timestamp())


def _whole(ctx: Context, evidence: Message) -> Verdict:
    return failed(M("snapsrv.copy.whole", "The whole instance “{container}” was copied, not its snapshot “{snapshot}”.", **_p(ctx)),
                  M("snapsrv.copy.whole.hint", "The chapter copies one snapshot: delete the copy (“incus delete {remote}:{container}”), then run “incus copy {container}/{snapshot} {remote}:{container}” (the name after the slash is the snapshot's).", **_p(ctx)),
                  "whole_instance_copied", evidence)


def _no_copy(ctx: Context) -> Verdict:
    obs = ctx.observation
    base = obs.primary.key("volatile.base_image")
    other = next((o for o in obs.others if base and o.key("volatile.base_image") == base), None)
    if other is not None:
        return failed(M("snapsrv.copy.other_name", "The snapshot server has a copy named “{found}”, not “{container}”.", found=other.name, **_p(ctx)),
                      M("snapsrv.copy.other_name.hint", "The copy keeps the instance's name. Rename it: “incus move {remote}:{found} {remote}:{container}”.", found=other.name, **_p(ctx)),
                      "copy_other_name")
    if _not_done(ctx, "snapshot"):
        return _first(ctx, "snapshot")
    if _not_done(ctx, "remote"):
        return _first(ctx, "remote")
    return failed(M("snapsrv.copy.missing", "There is no instance “{container}” on the snapshot server yet.", **_p(ctx)),
                  M("snapsrv.copy.missing.hint", "Run “incus copy {container}/{snapshot} {remote}:{container}”. If incus answers “The source server isn't listening on the network”, ask for “labkit setup --snapshot-server” again, or add “--mode push”.", **_p(ctx)),
                  "no_copy")


# -- 4. autostart --------------------------------------------------------------
def check_autostart(ctx: Context) -> Verdict:
    if (gone := _gone(ctx)) is not None:
        return gone
    obs = ctx.observation
    if obs.primary.key("boot.autostart").lower() in FALSE:
        return failed(M("snapsrv.autostart.on_primary", "boot.autostart is false on your main instance “{container}”: it will no longer start when its server boots.", **_p(ctx)),
                      M("snapsrv.autostart.on_primary.hint", "It belongs on the copy. Undo it with “incus config unset {container} boot.autostart”, then run “incus config set {remote}:{container} boot.autostart=false”.", **_p(ctx)),
                      "autostart_on_primary")
    if obs.copy is None:
        return _first(ctx, "copy")
    if obs.copy.key("boot.autostart").lower() in FALSE:
        return passed(M("snapsrv.autostart.ok", "The copy on the snapshot server will not start when that server boots.", **_p(ctx)),
                      M("snapsrv.evidence.autostart", "boot.autostart={value} on {remote}:{container} at {time} UTC.", value=obs.copy.key("boot.autostart"), time=_hms(obs.taken_at), **_p(ctx)))
    if _refreshed(ctx):
        return consumed(M("snapsrv.autostart.refreshed", "The refresh copied your main instance's configuration over the copy's, so boot.autostart=false is no longer there.", **_p(ctx)))
    return failed(M("snapsrv.autostart.missing", "boot.autostart is not false on the copy “{remote}:{container}”.", **_p(ctx)),
                  M("snapsrv.autostart.missing.hint", "Run “incus config set {remote}:{container} boot.autostart=false”: the copy is a spare, it must not start with the snapshot server.", **_p(ctx)),
                  "no_autostart")


# -- 5–7. keys on the primary ----------------------------------------------------
def _on_copy(ctx: Context, key: str) -> bool:
    """Set on the copy, not there by a refresh (which copies the primary's keys)."""
    copy = ctx.observation.copy
    return copy is not None and bool(copy.key(key)) and not _refreshed(ctx)


def check_schedule(ctx: Context) -> Verdict:
    if (gone := _gone(ctx)) is not None:
        return gone
    value = ctx.observation.primary.key("snapshots.schedule")
    if value and schedule_never_fires(value):
        return failed(M("snapsrv.schedule.never", "snapshots.schedule=“{value}” never takes a snapshot.", value=value, **_p(ctx)),
                      M("snapsrv.schedule.never.hint", "Incus accepts “@never” and dates that do not exist (such as 31 February), but nothing is ever taken. Run “incus config set {container} snapshots.schedule=\"50 20 * * *\"” (every day at 20:50).", **_p(ctx)),
                      "schedule_never")
    if value:
        return passed(M("snapsrv.schedule.ok", "“{container}” takes snapshots on its own: snapshots.schedule=“{value}”.", value=value, **_p(ctx)))
    if _on_copy(ctx, "snapshots.schedule"):
        return failed(M("snapsrv.schedule.on_copy", "snapshots.schedule is set on the copy, not on your main instance “{container}”.", **_p(ctx)),
                      M("snapsrv.schedule.on_copy.hint", "The snapshots are taken on the main instance: “incus config unset {remote}:{container} snapshots.schedule”, then “incus config set {container} snapshots.schedule=\"50 20 * * *\"”.", **_p(ctx)),
                      "schedule_on_copy")
    return failed(M("snapsrv.schedule.missing", "“{container}” has no snapshots.schedule.", **_p(ctx)),
                  M("snapsrv.schedule.missing.hint", "Run “incus config set {container} snapshots.schedule=\"50 20 * * *\"” (minute, hour, day of month, month, day of week: every day at 20:50). Incus refuses an invalid schedule: “Error parsing schedule: end of range (61) above maximum (59)” means a number is out of range, “Schedule must be of the form…” means five fields are needed.", **_p(ctx)),
                  "no_schedule")


def check_pattern(ctx: Context) -> Verdict:
    if (gone := _gone(ctx)) is not None:
        return gone
    value = ctx.observation.primary.key("snapshots.pattern")
    if not value:
        if _on_copy(ctx, "snapshots.pattern"):
            return failed(M("snapsrv.pattern.on_copy", "snapshots.pattern is set on the copy, not on your main instance “{container}”.", **_p(ctx)),
                          M("snapsrv.pattern.on_copy.hint", "Unset it there (“incus config unset {remote}:{container} snapshots.pattern”) and set it on “{container}”.", **_p(ctx)),
                          "pattern_on_copy")
        return failed(M("snapsrv.pattern.missing", "“{container}” has no snapshots.pattern: its automatic snapshots would be named snap0, snap1…", **_p(ctx)),
                      PATTERN_HINT.bind(**_p(ctx)), "no_pattern")
    problem = pattern_problem(value)
    if problem is None:
        return passed(M("snapsrv.pattern.ok", "New snapshots of “{container}” are named by their date: snapshots.pattern=“{value}”.", value=value, **_p(ctx)))
    if problem == "pattern_without_date":
        return failed(M("snapsrv.pattern.no_date", "snapshots.pattern=“{value}” puts no date in the snapshots' names.", value=value, **_p(ctx)),
                      PATTERN_HINT.bind(**_p(ctx)), problem)
    if problem == "pattern_bad_characters":
        return failed(M("snapsrv.pattern.characters", "snapshots.pattern=“{value}” makes names with a space or a slash, which Incus refuses: “incus snapshot create {container}” would fail (“Cannot contain space or / characters”).", value=value, **_p(ctx)),
                      PATTERN_HINT.bind(**_p(ctx)), problem)
    if problem == "pattern_partial_date":
        return failed(M("snapsrv.pattern.partial", "snapshots.pattern=“{value}” puts only part of a date in the snapshots' names: it needs the year, the month and the day.", value=value, **_p(ctx)),
                      PATTERN_HINT.bind(**_p(ctx)), problem)
    if problem == "pattern_bad_date_layout":
        return failed(M("snapsrv.pattern.layout", "snapshots.pattern=“{value}” writes its date layout literally: every snapshot would get the same name.", value=value, **_p(ctx)),
                      M("snapsrv.pattern.layout.hint", "The date filter takes a Go layout, written with the reference date: 2006 for the year, 01 the month, 02 the day, 15-04-05 the time. For example “incus config set {container} snapshots.pattern=\"{container}-{block}\"”.", block=DATE_BLOCK, **_p(ctx)),
                      problem)
    return failed(M("snapsrv.pattern.malformed", "snapshots.pattern=“{value}” is not a valid template. Incus accepted it, but “incus snapshot create {container}” would fail (“{error}”).", value=value, error="'}}' expected", **_p(ctx)),
                  PATTERN_HINT.bind(**_p(ctx)), problem)


PATTERN_HINT = M("snapsrv.pattern.hint", "Run “incus config set {container} snapshots.pattern=\"{container}-{block}\"”: each block {empty} is closed, creation_date is the snapshot's date, and the date filter's layout uses Go's reference date.", block=DATE_BLOCK, empty="{{ … }}")


def check_expiry(ctx: Context) -> Verdict:
    if (gone := _gone(ctx)) is not None:
        return gone
    value = ctx.observation.primary.key("snapshots.expiry")
    if value and expiry_is_zero(value):
        # Incus accepts “0d”: each new snapshot then expires as it is made, and is soon deleted.
        return failed(M("snapsrv.expiry.zero", "snapshots.expiry={value} makes every new snapshot expire the moment it is taken.", value=value, **_p(ctx)),
                      M("snapsrv.expiry.zero.hint", "Give snapshots time to live: “incus config set {container} snapshots.expiry=1d”.", **_p(ctx)),
                      "expiry_zero")
    if value:
        return passed(M("snapsrv.expiry.ok", "New snapshots of “{container}” expire: snapshots.expiry={value}.", value=value, **_p(ctx)))
    if _on_copy(ctx, "snapshots.expiry"):
        return failed(M("snapsrv.expiry.on_copy", "snapshots.expiry is set on the copy, not on your main instance “{container}”.", **_p(ctx)),
                      M("snapsrv.expiry.on_copy.hint", "Unset it there (“incus config unset {remote}:{container} snapshots.expiry”) and run “incus config set {container} snapshots.expiry=1d”.", **_p(ctx)),
                      "expiry_on_copy")
    return failed(M("snapsrv.expiry.missing", "“{container}” has no snapshots.expiry: its snapshots would pile up.", **_p(ctx)),
                  M("snapsrv.expiry.missing.hint", "Run “incus config set {container} snapshots.expiry=1d” (a number and a unit: 1H, 1d, 1w, 1m, 1y). “Invalid expiry expression” means another form, such as “1 day”.", **_p(ctx)),
                  "no_expiry")


# -- 8. refresh ------------------------------------------------------------------
def check_refresh(ctx: Context) -> Verdict:
    if (gone := _gone(ctx)) is not None:
        return gone
    obs = ctx.observation
    copy, primary = obs.copy, obs.primary
    if copy is None:
        return _first(ctx, "copy")
    made = copy.created_at
    newer = [s for s in primary.snapshots if made and s.created_at and s.created_at > made]
    # Brought by a refresh, not taken on the copy by hand under the same name.
    on_copy = [s for s in newer if _same_snapshot(s, copy.snapshot(s.name))]
    if _refreshed(ctx):
        if on_copy:
            if copy.key("boot.autostart").lower() not in FALSE:
                return failed(M("snapsrv.refresh.autostart_lost", "The copy was refreshed, and the refresh gave it your main instance's configuration: boot.autostart is no longer false on it.", **_p(ctx)),
                              M("snapsrv.refresh.autostart_lost.hint", "Every “incus copy --refresh” copies the configuration over the copy's. Set it again: “incus config set {remote}:{container} boot.autostart=false”.", **_p(ctx)),
                              "autostart_lost_on_refresh")
            snap = on_copy[-1]
            return passed(M("snapsrv.refresh.ok", "The copy was refreshed: it holds “{found}”, a snapshot newer than the copy itself.", found=snap.name, **_p(ctx)),
                          M("snapsrv.evidence.refresh_uuid", "The copy's volatile.uuid is now the main instance's ({uuid}…), as a refresh from it leaves it.", uuid=(copy.uuid or "?")[:8]),
                          M("snapsrv.evidence.refresh_snapshot", "Snapshot {found} taken at {time} UTC, after the copy was made ({made} UTC), and brought to the copy by Incus (its time there is cut to the second).", found=snap.name, time=_hms(snap.created_at), made=_hms(made)))
        if "refresh" in ctx.history.passed and primary.key("snapshots.expiry"):
            # The snapshot that proved it was seen; snapshots.expiry deletes it on both servers later.
            return consumed(M("snapsrv.refresh.expired", "The copy was refreshed, but the snapshot that proved it is gone: snapshots.expiry deletes old snapshots.", **_p(ctx)))
        by_hand = [s for s in newer if copy.snapshot(s.name) is not None]
        if by_hand:
            return failed(M("snapsrv.refresh.snapshot_on_copy", "The copy's snapshot “{found}” was taken on the snapshot server itself, not brought from “{container}” by a refresh.", found=by_hand[-1].name, **_p(ctx)),
                          M("snapsrv.refresh.snapshot_on_copy.hint", "A refresh brings the main instance's new snapshots to the copy. Delete that one (“incus snapshot delete {remote}:{container} {found}”), then run “incus copy --refresh {container} {remote}:{container}” and “incus config set {remote}:{container} boot.autostart=false” again.", found=by_hand[-1].name, **_p(ctx)),
                          "snapshot_made_on_copy")
        if newer:
            return failed(M("snapsrv.refresh.before_snapshot", "The copy was refreshed before the snapshot “{found}” was taken, so it does not have it.", found=newer[-1].name, **_p(ctx)),
                          REFRESH_HINT.bind(**_p(ctx)), "refreshed_before_snapshot")
        return failed(M("snapsrv.refresh.nothing_new", "The copy was refreshed, but “{container}” has no snapshot newer than the copy: the refresh brought nothing new.", **_p(ctx)),
                      NEW_SNAPSHOT_HINT.bind(**_p(ctx)), "no_new_snapshot")
    if newer:
        return failed(M("snapsrv.refresh.not_refreshed", "“{container}” has a newer snapshot (“{found}”), but the copy was not refreshed.", found=newer[-1].name, **_p(ctx)),
                      REFRESH_HINT.bind(**_p(ctx)), "not_refreshed")
    later = [s for s in primary.snapshots if s.name != ctx.params["snapshot"] and s not in newer]
    first = primary.snapshot(ctx.params["snapshot"])
    later = [s for s in later if first is None or (s.created_at and first.created_at and s.created_at > first.created_at)]
    if later:
        return failed(M("snapsrv.refresh.recopied", "The copy on the snapshot server was made at {made} UTC, after the snapshot “{found}”: it was copied again, not refreshed.", made=_hms(made), found=later[-1].name, **_p(ctx)),
                      M("snapsrv.refresh.recopied.hint", "A refresh updates the existing copy: take a new snapshot (“incus snapshot create {container}”), then run “incus copy --refresh {container} {remote}:{container}”, and “incus config set {remote}:{container} boot.autostart=false” again.", **_p(ctx)),
                      "recopied_instead_of_refresh")
    return failed(M("snapsrv.refresh.no_new_snapshot", "“{container}” has no snapshot newer than the copy yet.", **_p(ctx)),
                  NEW_SNAPSHOT_HINT.bind(**_p(ctx)), "no_new_snapshot")


REFRESH_HINT = M("snapsrv.refresh.hint", "Run “incus copy --refresh {container} {remote}:{container}” (the whole instance: “--refresh can only be used with instances”), then “incus config set {remote}:{container} boot.autostart=false” again. A copy without --refresh fails with “UNIQUE constraint failed”: the copy exists already.")
NEW_SNAPSHOT_HINT = M("snapsrv.refresh.new_snapshot.hint", "Take a snapshot named by your pattern: “incus snapshot create {container}” (no name), then “incus copy --refresh {container} {remote}:{container}” and “incus config set {remote}:{container} boot.autostart=false” again.")

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
    "remote": M("snapsrv.nudge.remote", "Remote servers are managed with “incus remote”; the trust token comes from the snapshot server (“labkit setup --snapshot-server” prints the whole command)."),
    "snapshot": M("snapsrv.nudge.snapshot", "Snapshots have their own family of commands: look at “incus snapshot --help”."),
    "copy": M("snapsrv.nudge.copy", "“incus copy” takes a source and a target: the source can be a snapshot (INSTANCE/SNAPSHOT), the target can be on a remote (REMOTE:NAME)."),
    "autostart": M("snapsrv.nudge.autostart", "Whether an instance starts with its server is the key boot.autostart; “incus config set” works on a remote's instances too."),
    "schedule": M("snapsrv.nudge.schedule", "Automatic snapshots are the instance's key snapshots.schedule, written like a cron line."),
    "pattern": M("snapsrv.nudge.pattern", "The names of automatic snapshots come from the key snapshots.pattern, a template that can use creation_date."),
    "expiry": M("snapsrv.nudge.expiry", "How long snapshots live is the key snapshots.expiry."),
    "refresh": M("snapsrv.nudge.refresh", "Take a new snapshot, then bring the copy up to date with “incus copy --refresh”: look at “incus copy --help”."),
}
SOLUTIONS = {
    "remote": M("snapsrv.solution.remote", "Run the line “labkit setup --snapshot-server” printed: “incus remote add {remote} ADDRESS --token TOKEN --accept-certificate”."),
    "snapshot": M("snapsrv.solution.snapshot", "Run “incus snapshot create {container} {snapshot}”."),
    "copy": M("snapsrv.solution.copy", "Run “incus copy {container}/{snapshot} {remote}:{container}”."),
    "autostart": M("snapsrv.solution.autostart", "Run “incus config set {remote}:{container} boot.autostart=false”."),
    "schedule": M("snapsrv.solution.schedule", "Run “incus config set {container} snapshots.schedule=\"50 20 * * *\"”."),
    "pattern": M("snapsrv.solution.pattern", "Run “incus config set {container} snapshots.pattern=\"{container}-{block}\"”.", block=DATE_BLOCK),
    "expiry": M("snapsrv.solution.expiry", "Run “incus config set {container} snapshots.expiry=1d”."),
    "refresh": M("snapsrv.solution.refresh", "Run “incus snapshot create {container}”, then “incus copy --refresh {container} {remote}:{container}”, then “incus config set {remote}:{container} boot.autostart=false”."),
}
# What the notebook's solution cells and the integration tests run, per step ({address} and
# {token}: what `labkit setup --snapshot-server` printed).
COMMANDS = {
    "remote": ("incus remote add {remote} {address} --token {token} --accept-certificate",),
    "snapshot": ("incus snapshot create {container} {snapshot}",),
    "copy": ("incus copy {container}/{snapshot} {remote}:{container}",),
    "autostart": ("incus config set {remote}:{container} boot.autostart=false",),
    "schedule": ("incus config set {container} snapshots.schedule=\"50 20 * * *\"",),
    "pattern": ("incus config set {container} snapshots.pattern=\"{container}-{{{{ creation_date|date:'2006-01-02_15-04-05' }}}}\"",),
    "expiry": ("incus config set {container} snapshots.expiry=1d",),
    "refresh": ("incus snapshot create {container}", "incus copy --refresh {container} {remote}:{container}",
                "incus config set {remote}:{container} boot.autostart=false"),
}
POINTS = {"remote": 2, "snapshot": 1, "copy": 3, "autostart": 1, "schedule": 1, "pattern": 1, "expiry": 1, "refresh": 3}
CHECKS = {"remote": check_remote, "snapshot": check_snapshot, "copy": check_copy, "autostart": check_autostart,
          "schedule": check_schedule, "pattern": check_pattern, "expiry": check_expiry, "refresh": check_refresh}
RESET_QUESTION = M("snapsrv.reset.confirm", "This deletes the copy {container} on the snapshot server, every snapshot of {container}, and its keys boot.autostart, snapshots.schedule, snapshots.pattern and snapshots.expiry, and starts a new attempt. Your remote {remote} stays. Continue?")


def _observe(access, params):
    from .snapshot_server_observe import observe  # I/O: loaded when a check runs, not with the chapter

    return observe(access, params)


def _reset(access, params):
    from .snapshot_server_observe import reset

    reset(access, params)


CHAPTER = Chapter(
    id="snapshot-server",
    title=M("snapsrv.title", "The snapshot server"),
    steps=tuple(Step(step_id, POINTS[step_id], TITLES[step_id], CHECKS[step_id], NUDGES[step_id],
                     SOLUTIONS[step_id], COMMANDS[step_id]) for step_id in TITLES),
    defaults={"container": "ubuntu-test", "snapshot": "ubuntu-test-1", "remote": "incus-snapshot", "learner": LEARNER_NAME},
    observe=_observe, reset=_reset, reset_question=RESET_QUESTION,
    notebook="snapshot-server", needs=("snapshot-server",),
)
