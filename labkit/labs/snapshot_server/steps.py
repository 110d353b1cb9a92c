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
the copy and its refresh in copies.py, what all checks share in evidence.py, the titles, nudges and
solutions in texts.py, the verdicts' messages in verdicts.py.
"""
from __future__ import annotations

from ...grading.contract import Retention
from ...grading.engine import Chapter, Context, Step, Verdict, consumed, failed, passed
from ...servers import SNAPSHOT_SERVER
from ..evidence_helpers import hms
from ..retention import own_snapshot
from . import verdicts
from .copies import check_copy, check_refresh
from .evidence import FALSE, do_first, instance_gone, looks_refreshed, msg_params, shown_names
from .keys import expiry_is_zero, pattern_problem, schedule_never_fires, schedule_only_at_startup
from .texts import CHAPTER_TITLE, NUDGES, RESET_QUESTION, SOLUTIONS, TITLES

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
    cert = mine or by_token
    trust = verdicts.TRUSTED_CERTIFICATE.bind(fingerprint=cert.fingerprint[:12], name=cert.name) if cert else None
    params = msg_params(ctx)
    if obs.client_error is not None:  # there, but not readable: not a class view, the remotes are unknown
        return failed(verdicts.CLIENT_CONFIG_UNREADABLE.bind(error=obs.client_error, **params),
                      verdicts.CLIENT_CONFIG_UNREADABLE_HINT.bind(**params), "client_config_unreadable", trust)
    if obs.remotes is None:  # no client config to read (a class view): the server's word only
        if trust is not None:
            return passed(verdicts.SERVER_TRUSTS_YOU.bind(**params), trust)
        return _no_remote(ctx)
    named = next((r for r in obs.remotes if r.name == name), None)
    ours = obs.remote_for_server()
    # Without a readable client.crt, the token's name is the only link between the learner and a trust.
    trusted = mine is not None or (by_token is not None and obs.client_fingerprint is None)
    if named is not None and named in ours and trusted:
        return passed(verdicts.REMOTE_OK.bind(**params), trust, verdicts.REMOTE_ADDRESS.bind(addr=named.addr, **params))
    if named is not None and named not in ours:
        server = ", ".join(obs.server_addresses) or "?"
        return failed(verdicts.REMOTE_WRONG_ADDRESS.bind(addr=named.addr, server=server, **params),
                      verdicts.REMOTE_WRONG_ADDRESS_HINT.bind(**params), "remote_wrong_address")
    others = [r for r in ours if r.name != name]
    if others and trusted:
        return failed(verdicts.REMOTE_OTHER_NAME.bind(found=others[0].name, **params),
                      verdicts.REMOTE_OTHER_NAME_HINT.bind(found=others[0].name, **params), "remote_other_name", trust)
    if by_token and not mine:
        return failed(verdicts.TOKEN_USED_ELSEWHERE.bind(**params), verdicts.TOKEN_USED_ELSEWHERE_HINT.bind(**params),
                      "token_used_elsewhere", trust)
    return _no_remote(ctx)


def _no_remote(ctx: Context) -> Verdict:
    return failed(verdicts.NO_REMOTE.bind(**msg_params(ctx)), verdicts.NO_REMOTE_HINT.bind(**msg_params(ctx)),
                  "no_remote")


# -- 2. snapshot -------------------------------------------------------------
def check_snapshot(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    primary, params = ctx.observation.primary, msg_params(ctx)
    snap = primary.snapshot(ctx.params["snapshot"])
    if snap is not None:
        return passed(verdicts.SNAPSHOT_OK.bind(**params),
                      verdicts.SNAPSHOT_CREATED.bind(time=hms(snap.created_at), **params))
    if primary.key("snapshots.expiry") and not primary.snapshots and \
            ("snapshot" in ctx.history.passed or ctx.observation.copy is not None):
        # The copy was made from a snapshot; snapshots.expiry deletes them later on both servers.
        return consumed(verdicts.SNAPSHOT_EXPIRED.bind(**params), how=verdicts.SNAPSHOT_EXPIRED_HOW.bind(**params))
    if primary.snapshots:
        return failed(verdicts.SNAPSHOT_WRONG_NAME.bind(found=shown_names(primary.snapshots), **params),
                      verdicts.SNAPSHOT_WRONG_NAME_HINT.bind(first=primary.snapshots[0].name, **params),
                      "wrong_snapshot_name")
    return failed(verdicts.NO_SNAPSHOT.bind(**params), verdicts.NO_SNAPSHOT_HINT.bind(**params), "no_snapshot")


# -- 3. copy: in copies.py, with 8. refresh --------------------------


# -- 4. autostart --------------------------------------------------------------
def check_autostart(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs, params = ctx.observation, msg_params(ctx)
    if obs.primary.key("boot.autostart").lower() in FALSE:
        return failed(verdicts.AUTOSTART_ON_PRIMARY.bind(**params), verdicts.AUTOSTART_ON_PRIMARY_HINT.bind(**params),
                      "autostart_on_primary")
    if obs.copy is None:
        return do_first(ctx, "copy")
    if obs.copy.key("boot.autostart").lower() in FALSE:
        return passed(verdicts.AUTOSTART_OK.bind(**params),
                      verdicts.AUTOSTART_SEEN.bind(value=obs.copy.key("boot.autostart"), time=hms(obs.taken_at),
                                                   **params))
    if looks_refreshed(ctx):
        # Not evidence gone: the copy would start with the snapshot server now. The refresh step's
        # points are about the refresh itself; this one says the key must be set again after each.
        return failed(verdicts.AUTOSTART_LOST.bind(**params), verdicts.AUTOSTART_LOST_HINT.bind(**params),
                      "autostart_lost_on_refresh")
    return failed(verdicts.NO_AUTOSTART.bind(**params), verdicts.NO_AUTOSTART_HINT.bind(**params), "no_autostart")


# -- 5–7. keys on the primary ----------------------------------------------------
def _on_copy(ctx: Context, key: str) -> bool:
    """Set on the copy, not there by a refresh (which copies the primary's keys)."""
    copy = ctx.observation.copy
    return copy is not None and bool(copy.key(key)) and not looks_refreshed(ctx)


def check_schedule(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    value, params = ctx.observation.primary.key("snapshots.schedule"), msg_params(ctx)
    if value and schedule_never_fires(value):
        return failed(verdicts.SCHEDULE_NEVER.bind(value=value, **params), verdicts.SCHEDULE_NEVER_HINT.bind(**params),
                      "schedule_never")
    if value and schedule_only_at_startup(value):
        # Incus accepts it and takes a snapshot at each start (docs/second-lab-facts.md (d)).
        return failed(verdicts.SCHEDULE_STARTUP_ONLY.bind(value=value, **params),
                      verdicts.SCHEDULE_STARTUP_ONLY_HINT.bind(**params), "schedule_startup_only")
    if value:
        return passed(verdicts.SCHEDULE_OK.bind(value=value, **params))
    if _on_copy(ctx, "snapshots.schedule"):
        return failed(verdicts.SCHEDULE_ON_COPY.bind(**params), verdicts.SCHEDULE_ON_COPY_HINT.bind(**params),
                      "schedule_on_copy")
    return failed(verdicts.NO_SCHEDULE.bind(**params), verdicts.NO_SCHEDULE_HINT.bind(**params), "no_schedule")


def check_pattern(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    value, params = ctx.observation.primary.key("snapshots.pattern"), msg_params(ctx)
    if not value:
        if _on_copy(ctx, "snapshots.pattern"):
            return failed(verdicts.PATTERN_ON_COPY.bind(**params), verdicts.PATTERN_ON_COPY_HINT.bind(**params),
                          "pattern_on_copy")
        return failed(verdicts.NO_PATTERN.bind(**params), verdicts.PATTERN_HINT.bind(**params), "no_pattern")
    problem = pattern_problem(value)
    if problem is None:
        return passed(verdicts.PATTERN_OK.bind(value=value, **params))
    if problem == "pattern_without_date":
        return failed(verdicts.PATTERN_WITHOUT_DATE.bind(value=value, **params), verdicts.PATTERN_HINT.bind(**params),
                      problem)
    if problem == "pattern_bad_characters":
        return failed(verdicts.PATTERN_BAD_CHARACTERS.bind(value=value, **params),
                      verdicts.PATTERN_HINT.bind(**params), problem)
    if problem == "pattern_partial_date":
        return failed(verdicts.PATTERN_PARTIAL_DATE.bind(value=value, **params), verdicts.PATTERN_HINT.bind(**params),
                      problem)
    if problem == "pattern_bad_date_layout":
        return failed(verdicts.PATTERN_LITERAL_LAYOUT.bind(value=value, **params),
                      verdicts.PATTERN_LITERAL_LAYOUT_HINT.bind(**params), problem)
    return failed(verdicts.PATTERN_MALFORMED.bind(value=value, **params), verdicts.PATTERN_HINT.bind(**params), problem)


def check_expiry(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    value, params = ctx.observation.primary.key("snapshots.expiry"), msg_params(ctx)
    if value and expiry_is_zero(value):
        # Incus accepts “0d”: each new snapshot then expires as it is made, and is soon deleted.
        return failed(verdicts.EXPIRY_ZERO.bind(value=value, **params), verdicts.EXPIRY_ZERO_HINT.bind(**params),
                      "expiry_zero")
    if value:
        return passed(verdicts.EXPIRY_OK.bind(value=value, **params))
    if _on_copy(ctx, "snapshots.expiry"):
        return failed(verdicts.EXPIRY_ON_COPY.bind(**params), verdicts.EXPIRY_ON_COPY_HINT.bind(**params),
                      "expiry_on_copy")
    return failed(verdicts.NO_EXPIRY.bind(**params), verdicts.NO_EXPIRY_HINT.bind(**params), "no_expiry")


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
    title=CHAPTER_TITLE,
    steps=tuple(Step(step_id, POINTS[step_id], TITLES[step_id], CHECKS[step_id], NUDGES[step_id],
                     SOLUTIONS[step_id], COMMANDS[step_id]) for step_id in TITLES),
    defaults={"container": "ubuntu-test", "snapshot": "ubuntu-test-1", "remote": "incus-snapshot",
              SNAPSHOT_SERVER.trust_param: LEARNER_NAME},
    observe=_observe, reset=_reset, reset_question=RESET_QUESTION,
    notebook="snapshot-server", needs=(SNAPSHOT_SERVER,), retention=Retention(own_snapshot),
    observe_class=_observe_class, untouched=untouched,
)
