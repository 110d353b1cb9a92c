"""The checks of the copy on the snapshot server (“snapshot server” chapter, steps.py): how
it was made — from the snapshot, by migration (copy) — and how it was brought up to date (refresh).

Both tell a snapshot that came by migration from one taken on the copy by hand (_same_snapshot).
"""
from __future__ import annotations

from datetime import timedelta

from ...grading.engine import Context, Event, Verdict, consumed, failed, passed
from ...i18n import Message
from ..evidence_helpers import hms, not_done
from . import verdicts
from .evidence import do_first, instance_gone, looks_refreshed, msg_params, shown_names
from .observe import Machine


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
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs, params = ctx.observation, msg_params(ctx)
    copy, primary = obs.copy, obs.primary
    if copy is None:
        return _no_copy(ctx)
    base = primary.key("volatile.base_image")
    if copy.key("volatile.apply_template") == "create" or (base and copy.key("volatile.base_image") != base):
        return failed(verdicts.NOT_A_COPY.bind(**params), verdicts.NOT_A_COPY_HINT.bind(**params), "not_a_copy")
    event = _copy_event(ctx)
    if event is not None:
        source = str(event.context.get("snapshot") or "")
        if not source:
            return _whole(ctx, verdicts.MIGRATED_WHOLE.bind(time=hms(event.time), **params))
        if source != f"{ctx.params['container']}/{ctx.params['snapshot']}":
            return failed(verdicts.COPIED_OTHER_SNAPSHOT.bind(found=source.split("/", 1)[-1], **params),
                          verdicts.COPIED_OTHER_SNAPSHOT_HINT.bind(**params), "copied_other_snapshot")
        return passed(verdicts.COPY_OK.bind(**params), verdicts.MIGRATED_SNAPSHOT.bind(time=hms(event.time), **params))
    if looks_refreshed(ctx):
        return consumed(verdicts.COPY_REFRESHED_SINCE.bind(**params))
    shared = [s for s in copy.snapshots if _same_snapshot(primary.snapshot(s.name), s)]
    if shared:
        return _whole(ctx, verdicts.COPY_HOLDS_SNAPSHOTS.bind(found=shown_names(shared), **params))
    if copy.key("volatile.apply_template") != "copy":
        return consumed(verdicts.COPY_STARTED_SINCE.bind(**params))
    if "copy" in ctx.history.passed:
        return consumed(verdicts.COPY_REPORT_GONE.bind(**params))
    # What is left (volatile.apply_template=copy, the image's volatile.base_image, no snapshots) a
    # client can write: `incus create --empty` and `incus config set … volatile.apply_template=copy`.
    # Nothing that says it was done wrong either: not verified, with the way to have it seen.
    return consumed(verdicts.COPY_NOT_SEEN.bind(**params), how=verdicts.COPY_NOT_SEEN_HOW.bind(**params))


def _same_snapshot(source, copied) -> bool:
    """`copied` came from `source` by migration: Incus cut its time to whole seconds on the way;
    a snapshot taken on the copy by hand, even in the same second, keeps its fraction."""
    return source is not None and source.created_at is not None and copied is not None \
        and copied.created_at is not None and copied.whole_second \
        and int(source.created_at.timestamp()) == int(copied.created_at.timestamp())


def _whole(ctx: Context, evidence: Message) -> Verdict:
    return failed(verdicts.WHOLE_INSTANCE_COPIED.bind(**msg_params(ctx)),
                  verdicts.WHOLE_INSTANCE_COPIED_HINT.bind(**msg_params(ctx)), "whole_instance_copied", evidence)


# A copy of the lab's small instance ends well within this after it was created on the snapshot
# server (19.6 s measured under heavy load, docs/second-lab-facts.md (b)).
COPY_WINDOW = timedelta(minutes=2)


def own_copy_elsewhere(ctx: Context) -> Machine | None:
    """The learner's own copy under another name, found only by what proves it is theirs: it bears their
    primary's volatile.uuid (a refresh from it), or it is the one instance created on the snapshot server
    shortly before a copy of *their* instance ended (the main server's instance-migrated, which names
    the source).  Never by image: on a shared snapshot server, others' copies come from the same one."""
    obs = ctx.observation
    uuid = obs.primary.uuid
    same = [o for o in obs.others if uuid and o.uuid == uuid]
    if len(same) == 1:
        return same[0]
    for event in sorted((e for e in ctx.history.events if e.action == "instance-migrated"),
                        key=lambda e: e.time, reverse=True):
        made = [o for o in obs.others if o.created_at and o.created_at <= event.time <= o.created_at + COPY_WINDOW]
        if len(made) == 1:
            return made[0]
    return None


def _no_copy(ctx: Context) -> Verdict:
    other, params = own_copy_elsewhere(ctx), msg_params(ctx)
    if other is not None:
        return failed(verdicts.COPY_OTHER_NAME.bind(found=other.name, **params),
                      verdicts.COPY_OTHER_NAME_HINT.bind(found=other.name, **params), "copy_other_name")
    if not_done(ctx, "snapshot"):
        return do_first(ctx, "snapshot")
    if not_done(ctx, "remote"):
        return do_first(ctx, "remote")
    return failed(verdicts.NO_COPY.bind(**params), verdicts.NO_COPY_HINT.bind(**params), "no_copy")


# -- 8. refresh ------------------------------------------------------------------
def check_refresh(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs, params = ctx.observation, msg_params(ctx)
    copy, primary = obs.copy, obs.primary
    if copy is None:
        return do_first(ctx, "copy")
    made = copy.created_at
    newer = [s for s in primary.snapshots if made and s.created_at and s.created_at > made]
    first = primary.snapshot(ctx.params["snapshot"])
    # Newer content than the copy was made from: the primary's snapshots after the chapter's one.
    later = [s for s in primary.snapshots if s.name != ctx.params["snapshot"]
             and (first is None or (s.created_at and first.created_at and s.created_at > first.created_at))]
    # What a refresh brought: those of them on the copy by migration (a snapshot copy has none of
    # its own), whenever they were taken — before the copy was made too — not those taken on the copy by hand.
    brought = [s for s in later if _same_snapshot(s, copy.snapshot(s.name))]
    if looks_refreshed(ctx):
        if brought:
            snap = brought[-1]
            return passed(verdicts.REFRESHED_WITH_NEW_SNAPSHOT.bind(found=snap.name, **params),
                          verdicts.COPY_HAS_PRIMARY_UUID.bind(uuid=(copy.uuid or "?")[:8]),
                          verdicts.SNAPSHOT_BROUGHT.bind(found=snap.name, time=hms(snap.created_at)))
        if primary.key("snapshots.expiry") and not copy.snapshots:
            # What the refresh brought, snapshots.expiry deleted later on both servers.
            return consumed(verdicts.REFRESH_EXPIRED.bind(**params), how=verdicts.REFRESH_EXPIRED_HOW.bind(**params))
        by_hand = [s for s in primary.snapshots
                   if copy.snapshot(s.name) is not None and not _same_snapshot(s, copy.snapshot(s.name))]
        if by_hand:
            return failed(verdicts.SNAPSHOT_MADE_ON_COPY.bind(found=by_hand[-1].name, **params),
                          verdicts.SNAPSHOT_MADE_ON_COPY_HINT.bind(found=by_hand[-1].name, **params),
                          "snapshot_made_on_copy")
        if later:
            return failed(verdicts.REFRESHED_BEFORE_SNAPSHOT.bind(found=later[-1].name, **params),
                          verdicts.REFRESH_HINT.bind(**params), "refreshed_before_snapshot")
        return failed(verdicts.REFRESH_BROUGHT_NOTHING.bind(**params), verdicts.NEW_SNAPSHOT_HINT.bind(**params),
                      "no_new_snapshot")
    if newer:
        return failed(verdicts.NOT_REFRESHED.bind(found=newer[-1].name, **params),
                      verdicts.REFRESH_HINT.bind(**params), "not_refreshed")
    recopied = [s for s in later if s not in newer]
    if recopied:
        return failed(verdicts.RECOPIED.bind(made=hms(made), found=recopied[-1].name, **params),
                      verdicts.RECOPIED_HINT.bind(**params), "recopied_instead_of_refresh")
    return failed(verdicts.NO_NEW_SNAPSHOT.bind(**params), verdicts.NEW_SNAPSHOT_HINT.bind(**params), "no_new_snapshot")
