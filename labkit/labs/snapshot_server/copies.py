"""The checks of the copy on the snapshot server (“snapshot server” chapter, steps.py): how
it was made — from the snapshot, by migration (copy) — and how it was brought up to date (refresh).

Both tell a snapshot that came by migration from one taken on the copy by hand (_same_snapshot).
"""
from __future__ import annotations

from datetime import timedelta

from ...grading.engine import Context, Event, Verdict, consumed, failed, passed
from ...i18n import M, Message
from ..evidence_helpers import hms, not_done
from .evidence import do_first, instance_gone, looks_refreshed, msg_params, shown_names
from .observe import Machine
from .texts import NEW_SNAPSHOT_HINT, REFRESH_HINT


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
    obs = ctx.observation
    copy, primary = obs.copy, obs.primary
    if copy is None:
        return _no_copy(ctx)
    base = primary.key("volatile.base_image")
    if copy.key("volatile.apply_template") == "create" or (base and copy.key("volatile.base_image") != base):
        return failed(M("snapsrv.copy.not_a_copy", "The instance “{container}” on the snapshot server is not a copy of "
                                                   "your “{container}”: it was created from an image, or copied from "
                                                   "another instance.", **msg_params(ctx)),
                      M("snapsrv.copy.not_a_copy.hint",
                        "Delete it (“incus delete {remote}:{container}”) and copy your snapshot: "
                        "“incus copy {container}/{snapshot} {remote}:{container}”.", **msg_params(ctx)),
                      "not_a_copy")
    event = _copy_event(ctx)
    if event is not None:
        source = str(event.context.get("snapshot") or "")
        if not source:
            return _whole(ctx, M("snapsrv.evidence.migrated_whole", "Incus reported at {time} the copy of the whole "
                                                                    "instance {container}.",
                                 time=hms(event.time), **msg_params(ctx)))
        if source != f"{ctx.params['container']}/{ctx.params['snapshot']}":
            return failed(M("snapsrv.copy.other_snapshot", "The copy was made from the snapshot “{found}”, not from "
                                                           "“{snapshot}”.", found=source.split("/", 1)[-1],
                            **msg_params(ctx)),
                          M("snapsrv.copy.other_snapshot.hint",
                            "Delete the copy (“incus delete {remote}:{container}”) and copy “{snapshot}”: "
                            "“incus copy {container}/{snapshot} {remote}:{container}”.", **msg_params(ctx)),
                          "copied_other_snapshot")
        return passed(M("snapsrv.copy.ok", "“{container}” on the snapshot server is a copy of your snapshot "
                                           "“{snapshot}”.", **msg_params(ctx)),
                      M("snapsrv.evidence.migrated", "Incus reported at {time} the copy of {container}/{snapshot}.",
                        time=hms(event.time), **msg_params(ctx)))
    if looks_refreshed(ctx):
        return consumed(M("snapsrv.copy.refreshed", "The copy has been refreshed since it was made: the refresh "
                                                    "replaced what showed how it was first made.", **msg_params(ctx)))
    shared = [s for s in copy.snapshots if _same_snapshot(primary.snapshot(s.name), s)]
    if shared:
        return _whole(ctx, M("snapsrv.evidence.copied_snapshots", "The copy holds snapshots of {container}: {found}.",
                             found=shown_names(shared), **msg_params(ctx)))
    if copy.key("volatile.apply_template") != "copy":
        return consumed(M("snapsrv.copy.started", "The copy has been started since it was made "
                                                  "(volatile.apply_template is gone), so how it was made can no longer "
                                                  "be seen.", **msg_params(ctx)))
    if "copy" in ctx.history.passed:
        return consumed(M("snapsrv.copy.unseen", "No report of the copy by the main server is in the journal any more.",
                          **msg_params(ctx)))
    # What is left (volatile.apply_template=copy, the image's volatile.base_image, no snapshots) a
    # client can write: `incus create --empty` and `incus config set … volatile.apply_template=copy`.
    # Nothing that says it was done wrong either: not verified, with the way to have it seen.
    return consumed(M("snapsrv.copy.not_seen",
                      "labkit did not see “{container}” on the snapshot server being copied from your instance: the "
                      "main server's report of a copy (its instance-migrated event) is seen only by a listener, and "
                      "none recorded it. Its keys alone prove nothing, and do not say it is wrong either.",
                      **msg_params(ctx)),
                    how=M("snapsrv.copy.not_seen.how",
                          "Go on with the chapter. To have a copy seen, make it while a listener runs: the event "
                          "recorder (“labkit --lab snapshot-server setup” leaves it running), "
                          "“labkit --lab snapshot-server watch” in another terminal, or the notebook.",
                          **msg_params(ctx)))


def _same_snapshot(source, copied) -> bool:
    """`copied` came from `source` by migration: Incus cut its time to whole seconds on the way;
    a snapshot taken on the copy by hand, even in the same second, keeps its fraction."""
    return source is not None and source.created_at is not None and copied is not None \
        and copied.created_at is not None and copied.whole_second \
        and int(source.created_at.timestamp()) == int(copied.created_at.timestamp())


def _whole(ctx: Context, evidence: Message) -> Verdict:
    return failed(M("snapsrv.copy.whole", "The whole instance “{container}” was copied, not its snapshot “{snapshot}”.",
                    **msg_params(ctx)),
                  M("snapsrv.copy.whole.hint",
                    "The chapter copies one snapshot: delete the copy (“incus delete {remote}:{container}”), then run "
                    "“incus copy {container}/{snapshot} {remote}:{container}” (the name after the slash is the "
                    "snapshot's).", **msg_params(ctx)),
                  "whole_instance_copied", evidence)


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
    other = own_copy_elsewhere(ctx)
    if other is not None:
        return failed(M("snapsrv.copy.other_name", "The snapshot server has a copy named “{found}”, not “{container}”.",
                        found=other.name, **msg_params(ctx)),
                      M("snapsrv.copy.other_name.hint", "The copy keeps the instance's name. Rename it: "
                                                        "“incus move {remote}:{found} {remote}:{container}”.",
                        found=other.name, **msg_params(ctx)),
                      "copy_other_name")
    if not_done(ctx, "snapshot"):
        return do_first(ctx, "snapshot")
    if not_done(ctx, "remote"):
        return do_first(ctx, "remote")
    return failed(M("snapsrv.copy.missing", "There is no instance “{container}” on the snapshot server yet.",
                    **msg_params(ctx)),
                  M("snapsrv.copy.missing.hint", "Run “incus copy {container}/{snapshot} {remote}:{container}”. If "
                                                 "incus answers “The source server isn't listening on the network”, "
                                                 "ask for “labkit setup --snapshot-server” again, or add "
                                                 "“--mode push”.", **msg_params(ctx)),
                  "no_copy")


# -- 8. refresh ------------------------------------------------------------------
def check_refresh(ctx: Context) -> Verdict:
    if (gone := instance_gone(ctx)) is not None:
        return gone
    obs = ctx.observation
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
            return passed(M("snapsrv.refresh.ok_brought", "The copy was refreshed: it received “{found}”, a snapshot "
                                                          "newer than the one it was made from.",
                            found=snap.name, **msg_params(ctx)),
                          M("snapsrv.evidence.refresh_uuid", "The copy's volatile.uuid is now the main instance's "
                                                             "({uuid}…), as a refresh from it leaves it.",
                            uuid=(copy.uuid or "?")[:8]),
                          M("snapsrv.evidence.refresh_brought", "Snapshot {found} taken at {time} UTC, brought to the "
                                                                "copy by Incus (its time there is cut to the second).",
                            found=snap.name, time=hms(snap.created_at)))
        if primary.key("snapshots.expiry") and not copy.snapshots:
            # What the refresh brought, snapshots.expiry deleted later on both servers.
            return consumed(M("snapsrv.refresh.expired", "The copy was refreshed, but the snapshot that proved it is "
                                                         "gone: snapshots.expiry deletes old snapshots.",
                              **msg_params(ctx)),
                            how=M("snapsrv.refresh.expired.how",
                                  "To have it verified, take a new snapshot (“incus snapshot create {container}”), "
                                  "refresh the copy again (“incus copy --refresh {container} {remote}:{container}”) "
                                  "and check this step; then set boot.autostart=false on the copy again.",
                                  **msg_params(ctx)))
        by_hand = [s for s in primary.snapshots
                   if copy.snapshot(s.name) is not None and not _same_snapshot(s, copy.snapshot(s.name))]
        if by_hand:
            return failed(M("snapsrv.refresh.snapshot_on_copy",
                            "The copy's snapshot “{found}” was taken on the snapshot server itself, not brought from "
                            "“{container}” by a refresh.", found=by_hand[-1].name, **msg_params(ctx)),
                          M("snapsrv.refresh.snapshot_on_copy.hint",
                            "A refresh brings the main instance's new snapshots to the copy. Delete that one "
                            "(“incus snapshot delete {remote}:{container} {found}”), then run "
                            "“incus copy --refresh {container} {remote}:{container}” and "
                            "“incus config set {remote}:{container} boot.autostart=false” again.",
                            found=by_hand[-1].name, **msg_params(ctx)),
                          "snapshot_made_on_copy")
        if later:
            return failed(M("snapsrv.refresh.before_snapshot", "The copy was refreshed before the snapshot “{found}” "
                                                               "was taken, so it does not have it.",
                            found=later[-1].name, **msg_params(ctx)),
                          REFRESH_HINT.bind(**msg_params(ctx)), "refreshed_before_snapshot")
        return failed(M("snapsrv.refresh.nothing_new", "The copy was refreshed, but “{container}” has no snapshot "
                                                       "newer than “{snapshot}”, the one the copy was made from: the "
                                                       "refresh brought nothing new.", **msg_params(ctx)),
                      NEW_SNAPSHOT_HINT.bind(**msg_params(ctx)), "no_new_snapshot")
    if newer:
        return failed(M("snapsrv.refresh.not_refreshed", "“{container}” has a newer snapshot (“{found}”), but the copy "
                                                         "was not refreshed.", found=newer[-1].name, **msg_params(ctx)),
                      REFRESH_HINT.bind(**msg_params(ctx)), "not_refreshed")
    recopied = [s for s in later if s not in newer]
    if recopied:
        return failed(M("snapsrv.refresh.recopied", "The copy on the snapshot server was made at {made} UTC, after the "
                                                    "snapshot “{found}”: it was copied again, not refreshed.",
                        made=hms(made), found=recopied[-1].name, **msg_params(ctx)),
                      M("snapsrv.refresh.recopied.hint",
                        "A refresh updates the existing copy: take a new snapshot (“incus snapshot create "
                        "{container}”), then run “incus copy --refresh {container} {remote}:{container}”, and "
                        "“incus config set {remote}:{container} boot.autostart=false” again.", **msg_params(ctx)),
                      "recopied_instead_of_refresh")
    return failed(M("snapsrv.refresh.no_new_snapshot", "“{container}” has no snapshot newer than the copy yet.",
                    **msg_params(ctx)),
                  NEW_SNAPSHOT_HINT.bind(**msg_params(ctx)), "no_new_snapshot")
