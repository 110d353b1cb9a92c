"""The “snapshot server” chapter: copy a snapshot to a second Incus server, schedule snapshots,
refresh the copy.

Evidence rules (docs/second-lab-facts.md): only what a learner cannot write counts — the
snapshot server's trust store, snapshot lists and their times (a snapshot that came by
migration has whole seconds), instances' created_at, and lifecycle events a listener saw.
Incus lets a client write the volatile.* keys it knows (`incus config set C volatile.uuid=…`
works, with the certificate the learner has on the snapshot server too): they name
near-misses, they never prove a step.  The learner's config.yml only names remotes.
The observation is `observe.ServerObservation`; checks are pure.

The checks of the remote, the snapshot and the keys are here, with the chapter's steps; those of
the copy and its refresh in copies.py, what all checks share in
evidence.py, the titles, nudges, solutions and hints in texts.py.
"""
from __future__ import annotations

from ...grading.contract import Retention
from ...grading.engine import Chapter, Context, Step, Verdict, consumed, failed, passed
from ...i18n import M
from ...servers import SNAPSHOT_SERVER
from ..evidence_helpers import hms
from ..retention import own_snapshot
from .copies import check_copy, check_refresh
from .evidence import FALSE, do_first, instance_gone, looks_refreshed, msg_params, shown_names
from .keys import expiry_is_zero, pattern_problem, schedule_never_fires, schedule_only_at_startup
from .texts import DATE_BLOCK, NUDGES, PATTERN_HINT, RESET_QUESTION, SOLUTIONS, TITLES

# The name `labkit setup --snapshot-server` gives the learner's token (snapshot_server.LEARNER_NAME):
# the certificate made from it carries it in the server's trust store.
LEARNER_NAME = "learner"


# -- 1. remote ---------------------------------------------------------------
def check_remote(ctx: Context) -> Verdict:
    obs, name = ctx.observation, ctx.params["remote"]
    learner = ctx.params.get("learner") or LEARNER_NAME
    mine = next((c for c in obs.trusted if obs.client_fingerprint and c.fingerprint == obs.client_fingerprint), None)
    # `labkit setup --snapshot-server` names each token “learner-<user>-<time>” (one per client).
    by_token = next((c for c in obs.trusted
                     if c.type == "client" and (c.name == learner or c.name.startswith(learner + "-"))), None)
    trust = M("snapsrv.evidence.trusted", "The snapshot server trusts the certificate {fingerprint}… (“{name}”).",
              fingerprint=(mine or by_token).fingerprint[:12],
              name=(mine or by_token).name) if (mine or by_token) else None
    if obs.client_error is not None:  # there, but not readable: not a class view, the remotes are unknown
        return failed(M("snapsrv.remote.config_unreadable", "labkit cannot read your Incus client configuration, so it "
                                                            "cannot see your remote “{remote}” ({error}).",
                        error=obs.client_error, **msg_params(ctx)),
                      M("snapsrv.remote.config_unreadable.hint",
                        "The file config.yml in your Incus client folder (INCUS_CONF, or ~/.config/incus) is written "
                        "by incus itself: it must be a small text file. Put back the one incus wrote, or remove it and "
                        "add the remote again: “incus remote add {remote} ADDRESS --token TOKEN --accept-certificate”.",
                        **msg_params(ctx)),
                      "client_config_unreadable", trust)
    if obs.remotes is None:  # no client config to read (a class view): the server's word only
        if trust is not None:
            return passed(M("snapsrv.remote.ok_server", "The snapshot server trusts your certificate.",
                            **msg_params(ctx)),
                          trust)
        return _no_remote(ctx)
    named = next((r for r in obs.remotes if r.name == name), None)
    ours = obs.remote_for_server()
    # Without a readable client.crt, the token's name is the only link between the learner and a trust.
    trusted = mine is not None or (by_token is not None and obs.client_fingerprint is None)
    if named is not None and named in ours and trusted:
        return passed(M("snapsrv.remote.ok", "The remote “{remote}” points at the snapshot server, which trusts your "
                                             "certificate.", **msg_params(ctx)),
                      trust, M("snapsrv.evidence.remote", "Remote {remote}: {addr}.", addr=named.addr,
                               **msg_params(ctx)))
    if named is not None and named not in ours:
        return failed(M("snapsrv.remote.wrong_address", "Your remote “{remote}” points at {addr}, which is not the "
                                                        "snapshot server ({server}).",
                        addr=named.addr, server=", ".join(obs.server_addresses) or "?", **msg_params(ctx)),
                      M("snapsrv.remote.wrong_address.hint", "Remove it with “incus remote remove {remote}”, then add "
                                                             "it again with the address and token that "
                                                             "“labkit setup --snapshot-server” printed.",
                        **msg_params(ctx)),
                      "remote_wrong_address")
    others = [r for r in ours if r.name != name]
    if others and trusted:
        return failed(M("snapsrv.remote.other_name", "Your remote for the snapshot server is named “{found}”, not "
                                                     "“{remote}”.", found=others[0].name, **msg_params(ctx)),
                      M("snapsrv.remote.other_name.hint", "The chapter's commands use the name “{remote}”. Rename "
                                                          "yours: “incus remote rename {found} {remote}”.",
                        found=others[0].name, **msg_params(ctx)),
                      "remote_other_name", trust)
    if by_token and not mine:
        return failed(M("snapsrv.remote.elsewhere", "Your token was used, but by another Incus client than yours: your "
                                                    "client has no trusted remote for the snapshot server.",
                        **msg_params(ctx)),
                      M("snapsrv.remote.elsewhere.hint",
                        "The remote was probably added as another user (sudo) or with another INCUS_CONF. Add it as "
                        "the user who does the lab; a token works once, so ask for a new one "
                        "(“labkit setup --snapshot-server” shows it once the old certificate is removed: "
                        "“incus config trust remove FINGERPRINT” on the snapshot server).", **msg_params(ctx)),
                      "token_used_elsewhere", trust)
    return _no_remote(ctx)


def _no_remote(ctx: Context) -> Verdict:
    return failed(M("snapsrv.remote.missing", "Your Incus client has no remote “{remote}” trusted by the snapshot "
                                              "server yet.", **msg_params(ctx)),
                  M("snapsrv.remote.missing.hint", "Run the command that “labkit setup --snapshot-server” printed: "
                                                   "“incus remote add {remote} ADDRESS --token TOKEN "
                                                   "--accept-certificate”. Without --token, incus asks for a trust "
                                                   "token and stops.", **msg_params(ctx)),
                  "no_remote")


# -- 2. snapshot -------------------------------------------------------------
def check_snapshot(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    primary = ctx.observation.primary
    snap = primary.snapshot(ctx.params["snapshot"])
    if snap is not None:
        return passed(M("snapsrv.snapshot.ok", "The snapshot “{snapshot}” of “{container}” exists.", **msg_params(ctx)),
                      M("snapsrv.evidence.snapshot", "Snapshot {snapshot} created at {time} UTC.",
                        time=hms(snap.created_at), **msg_params(ctx)))
    if primary.key("snapshots.expiry") and not primary.snapshots and \
            ("snapshot" in ctx.history.passed or ctx.observation.copy is not None):
        # The copy was made from a snapshot; snapshots.expiry deletes them later on both servers.
        return consumed(M("snapsrv.snapshot.expired", "The snapshot “{snapshot}” is gone: snapshots.expiry deletes old "
                                                      "snapshots.", **msg_params(ctx)),
                        how=M("snapsrv.expired.how", "labkit can verify it only while it exists: take a new snapshot "
                                                     "(“incus snapshot create {container} {snapshot}”) and check this "
                                                     "step again.", **msg_params(ctx)))
    if primary.snapshots:
        found = shown_names(primary.snapshots)
        return failed(M("snapsrv.snapshot.wrong_name", "There is no snapshot named “{snapshot}”, but “{container}” "
                                                       "has: {found}.", found=found, **msg_params(ctx)),
                      M("snapsrv.snapshot.wrong_name.hint", "The chapter copies the snapshot “{snapshot}”: create it "
                                                            "with “incus snapshot create {container} {snapshot}” (or "
                                                            "rename yours with "
                                                            "“incus snapshot rename {container} {first} {snapshot}”).",
                        first=primary.snapshots[0].name, **msg_params(ctx)),
                      "wrong_snapshot_name")
    return failed(M("snapsrv.snapshot.missing", "“{container}” has no snapshot yet.", **msg_params(ctx)),
                  M("snapsrv.snapshot.missing.hint", "Run “incus snapshot create {container} {snapshot}”. Older guides "
                                                     "show “incus snapshot {container} {snapshot}”, which Incus "
                                                     "rejects with “unknown command”: snapshot commands are now "
                                                     "subcommands (create, list, restore, delete…).",
                    **msg_params(ctx)),
                  "no_snapshot")


# -- 3. copy: in copies.py, with 8. refresh --------------------------


# -- 4. autostart --------------------------------------------------------------
def check_autostart(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs = ctx.observation
    if obs.primary.key("boot.autostart").lower() in FALSE:
        return failed(M("snapsrv.autostart.on_primary", "boot.autostart is false on your main instance “{container}”: "
                                                        "it will no longer start when its server boots.",
                        **msg_params(ctx)),
                      M("snapsrv.autostart.on_primary.hint",
                        "It belongs on the copy. Undo it with “incus config unset {container} boot.autostart”, then "
                        "run “incus config set {remote}:{container} boot.autostart=false”.", **msg_params(ctx)),
                      "autostart_on_primary")
    if obs.copy is None:
        return do_first(ctx, "copy")
    if obs.copy.key("boot.autostart").lower() in FALSE:
        return passed(M("snapsrv.autostart.ok", "The copy on the snapshot server will not start when that server "
                                                "boots.", **msg_params(ctx)),
                      M("snapsrv.evidence.autostart", "boot.autostart={value} on {remote}:{container} at {time} UTC.",
                        value=obs.copy.key("boot.autostart"), time=hms(obs.taken_at), **msg_params(ctx)))
    if looks_refreshed(ctx):
        # Not evidence gone: the copy would start with the snapshot server now. The refresh step's
        # points are about the refresh itself; this one says the key must be set again after each.
        return failed(M("snapsrv.autostart.lost", "The copy was refreshed, and the refresh gave it your main "
                                                  "instance's configuration: boot.autostart is no longer false on it, "
                                                  "so it would start with the snapshot server.", **msg_params(ctx)),
                      M("snapsrv.autostart.lost.hint",
                        "Every “incus copy --refresh” writes your main instance's configuration over the copy's: set "
                        "the key again after each refresh, "
                        "“incus config set {remote}:{container} boot.autostart=false”.", **msg_params(ctx)),
                      "autostart_lost_on_refresh")
    return failed(M("snapsrv.autostart.missing", "boot.autostart is not false on the copy “{remote}:{container}”.",
                    **msg_params(ctx)),
                  M("snapsrv.autostart.missing.hint",
                    "Run “incus config set {remote}:{container} boot.autostart=false”: the copy is a spare, it must "
                    "not start with the snapshot server.", **msg_params(ctx)),
                  "no_autostart")


# -- 5–7. keys on the primary ----------------------------------------------------
def _on_copy(ctx: Context, key: str) -> bool:
    """Set on the copy, not there by a refresh (which copies the primary's keys)."""
    copy = ctx.observation.copy
    return copy is not None and bool(copy.key(key)) and not looks_refreshed(ctx)


def check_schedule(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    value = ctx.observation.primary.key("snapshots.schedule")
    if value and schedule_never_fires(value):
        return failed(M("snapsrv.schedule.never", "snapshots.schedule=“{value}” never takes a snapshot.",
                        value=value, **msg_params(ctx)),
                      M("snapsrv.schedule.never.hint",
                        "Incus accepts “@never” and dates that do not exist (such as 31 February), but nothing is ever "
                        "taken. Run “incus config set {container} snapshots.schedule=\"50 20 * * *\"” (every day at "
                        "20:50).", **msg_params(ctx)),
                      "schedule_never")
    if value and schedule_only_at_startup(value):
        # Incus accepts it and takes a snapshot at each start (docs/second-lab-facts.md (d)).
        return failed(M("snapsrv.schedule.startup", "snapshots.schedule=“{value}” takes a snapshot only when "
                                                    "“{container}” starts: a server that keeps running for weeks takes "
                                                    "none, not one every day as the chapter asks.",
                        value=value, **msg_params(ctx)),
                      M("snapsrv.schedule.startup.hint",
                        "Give a time of day as well: “incus config set {container} snapshots.schedule=\"50 20 * * *\"” "
                        "(every day at 20:50), or “@startup, 50 20 * * *” to keep the snapshot at each start too.",
                        **msg_params(ctx)),
                      "schedule_startup_only")
    if value:
        return passed(M("snapsrv.schedule.ok", "“{container}” takes snapshots on its own: "
                                               "snapshots.schedule=“{value}”.", value=value, **msg_params(ctx)))
    if _on_copy(ctx, "snapshots.schedule"):
        return failed(M("snapsrv.schedule.on_copy", "snapshots.schedule is set on the copy, not on your main instance "
                                                    "“{container}”.", **msg_params(ctx)),
                      M("snapsrv.schedule.on_copy.hint",
                        "The snapshots are taken on the main instance: “incus config unset {remote}:{container} "
                        "snapshots.schedule”, then “incus config set {container} snapshots.schedule=\"50 20 * * *\"”.",
                        **msg_params(ctx)),
                      "schedule_on_copy")
    return failed(M("snapsrv.schedule.missing", "“{container}” has no snapshots.schedule.", **msg_params(ctx)),
                  M("snapsrv.schedule.missing.hint",
                    "Run “incus config set {container} snapshots.schedule=\"50 20 * * *\"” (minute, hour, day of "
                    "month, month, day of week: every day at 20:50). Incus refuses an invalid schedule: "
                    "“Error parsing schedule: end of range (61) above maximum (59)” means a number is out of range, "
                    "“Schedule must be of the form…” means five fields are needed.", **msg_params(ctx)),
                  "no_schedule")


def check_pattern(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    value = ctx.observation.primary.key("snapshots.pattern")
    if not value:
        if _on_copy(ctx, "snapshots.pattern"):
            return failed(M("snapsrv.pattern.on_copy", "snapshots.pattern is set on the copy, not on your main "
                                                       "instance “{container}”.", **msg_params(ctx)),
                          M("snapsrv.pattern.on_copy.hint",
                            "Unset it there (“incus config unset {remote}:{container} snapshots.pattern”) and set it "
                            "on “{container}”.", **msg_params(ctx)),
                          "pattern_on_copy")
        return failed(M("snapsrv.pattern.missing", "“{container}” has no snapshots.pattern: its automatic snapshots "
                                                   "would be named snap0, snap1…", **msg_params(ctx)),
                      PATTERN_HINT.bind(**msg_params(ctx)), "no_pattern")
    problem = pattern_problem(value)
    if problem is None:
        return passed(M("snapsrv.pattern.ok", "New snapshots of “{container}” are named by their date: "
                                              "snapshots.pattern=“{value}”.", value=value, **msg_params(ctx)))
    if problem == "pattern_without_date":
        return failed(M("snapsrv.pattern.no_date", "snapshots.pattern=“{value}” puts no date in the snapshots' names.",
                        value=value, **msg_params(ctx)),
                      PATTERN_HINT.bind(**msg_params(ctx)), problem)
    if problem == "pattern_bad_characters":
        return failed(M("snapsrv.pattern.characters", "snapshots.pattern=“{value}” makes names with a space or a "
                                                      "slash, which Incus refuses: “incus snapshot create {container}” "
                                                      "would fail (“Cannot contain space or / characters”).",
                        value=value, **msg_params(ctx)),
                      PATTERN_HINT.bind(**msg_params(ctx)), problem)
    if problem == "pattern_partial_date":
        return failed(M("snapsrv.pattern.partial", "snapshots.pattern=“{value}” puts only part of a date in the "
                                                   "snapshots' names: it needs the year, the month and the day.",
                        value=value, **msg_params(ctx)),
                      PATTERN_HINT.bind(**msg_params(ctx)), problem)
    if problem == "pattern_bad_date_layout":
        return failed(M("snapsrv.pattern.layout", "snapshots.pattern=“{value}” writes its date layout literally: every "
                                                  "snapshot would get the same name.", value=value, **msg_params(ctx)),
                      M("snapsrv.pattern.layout.hint",
                        "The date filter takes a Go layout, written with the reference date: 2006 for the year, 01 the "
                        "month, 02 the day, 15-04-05 the time. For example "
                        "“incus config set {container} snapshots.pattern=\"{container}-{block}\"”.",
                        block=DATE_BLOCK, **msg_params(ctx)),
                      problem)
    return failed(M("snapsrv.pattern.malformed", "snapshots.pattern=“{value}” is not a valid template. Incus accepted "
                                                 "it, but “incus snapshot create {container}” would fail (“{error}”).",
                    value=value, error="'}}' expected", **msg_params(ctx)),
                  PATTERN_HINT.bind(**msg_params(ctx)), problem)


def check_expiry(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    value = ctx.observation.primary.key("snapshots.expiry")
    if value and expiry_is_zero(value):
        # Incus accepts “0d”: each new snapshot then expires as it is made, and is soon deleted.
        return failed(M("snapsrv.expiry.zero", "snapshots.expiry={value} makes every new snapshot expire the moment it "
                                               "is taken.", value=value, **msg_params(ctx)),
                      M("snapsrv.expiry.zero.hint", "Give snapshots time to live: "
                                                    "“incus config set {container} snapshots.expiry=1d”.",
                        **msg_params(ctx)),
                      "expiry_zero")
    if value:
        return passed(M("snapsrv.expiry.ok", "New snapshots of “{container}” expire: snapshots.expiry={value}.",
                        value=value, **msg_params(ctx)))
    if _on_copy(ctx, "snapshots.expiry"):
        return failed(M("snapsrv.expiry.on_copy", "snapshots.expiry is set on the copy, not on your main instance "
                                                  "“{container}”.", **msg_params(ctx)),
                      M("snapsrv.expiry.on_copy.hint",
                        "Unset it there (“incus config unset {remote}:{container} snapshots.expiry”) and run "
                        "“incus config set {container} snapshots.expiry=1d”.", **msg_params(ctx)),
                      "expiry_on_copy")
    return failed(M("snapsrv.expiry.missing", "“{container}” has no snapshots.expiry: its snapshots would pile up.",
                    **msg_params(ctx)),
                  M("snapsrv.expiry.missing.hint", "Run “incus config set {container} snapshots.expiry=1d” (a number "
                                                   "and a unit: 1H, 1d, 1w, 1m, 1y). “Invalid expiry expression” means "
                                                   "another form, such as “1 day”.", **msg_params(ctx)),
                  "no_expiry")


# What the notebook's solution cells and the integration tests run, per step ({address} and
# {token}: what `labkit setup --snapshot-server` printed).
COMMANDS = {
    "remote": ("incus remote add {remote} {address} --token {token} --accept-certificate",),
    "snapshot": ("incus snapshot create {container} {snapshot}",),
    "copy": ("incus copy {container}/{snapshot} {remote}:{container}",),
    "autostart": ("incus config set {remote}:{container} boot.autostart=false",),
    "schedule": ("incus config set {container} snapshots.schedule=\"50 20 * * *\"",),
    "pattern": ("incus config set {container} snapshots.pattern=\"{container}-{{{{ "
                "creation_date|date:'2006-01-02_15-04-05' }}}}\"",),
    "expiry": ("incus config set {container} snapshots.expiry=1d",),
    "refresh": ("incus snapshot create {container}", "incus copy --refresh {container} {remote}:{container}",
                "incus config set {remote}:{container} boot.autostart=false"),
}
POINTS = {"remote": 2, "snapshot": 1, "copy": 3, "autostart": 1, "schedule": 1, "pattern": 1, "expiry": 1, "refresh": 3}
CHECKS = {"remote": check_remote, "snapshot": check_snapshot, "copy": check_copy, "autostart": check_autostart,
          "schedule": check_schedule, "pattern": check_pattern, "expiry": check_expiry, "refresh": check_refresh}


def _observe(access, params):
    from .observe import observe  # I/O: loaded when a check runs, not with the chapter

    return observe(access, params)


def _reset(access, params):
    from .observe import reset

    reset(access, params)


def _observe_class(main, params, projects, instances, cache):
    from .class_view import observe_class  # a class view's I/O: loaded by class views only

    return observe_class(main, params, projects, instances, cache)


def untouched(obs, history, params) -> bool:
    """As the class left it: the primary running with no snapshot and none of the chapter's keys, nothing
    of the learner's on the snapshot server, and no certificate there from the learner's token."""
    from .observe import CHAPTER_KEYS  # the observation's module loads with a check

    primary, learner = obs.primary, params.get("learner") or LEARNER_NAME
    return (primary is not None and primary.status == "Running" and not primary.snapshots
            and not any(primary.key(k) for k in CHAPTER_KEYS) and obs.copy is None and not obs.others
            and not any(c.name == learner for c in obs.trusted))


CHAPTER = Chapter(
    id="snapshot-server",
    title=M("snapsrv.title", "The snapshot server"),
    steps=tuple(Step(step_id, POINTS[step_id], TITLES[step_id], CHECKS[step_id], NUDGES[step_id],
                     SOLUTIONS[step_id], COMMANDS[step_id]) for step_id in TITLES),
    defaults={"container": "ubuntu-test", "snapshot": "ubuntu-test-1", "remote": "incus-snapshot",
              SNAPSHOT_SERVER.trust_param: LEARNER_NAME},
    observe=_observe, reset=_reset, reset_question=RESET_QUESTION,
    notebook="snapshot-server", needs=(SNAPSHOT_SERVER,), retention=Retention(own_snapshot),
    observe_class=_observe_class, untouched=untouched,
)
