"""What the checks of the “container snapshots” chapter (steps.py) share: the chapter's file and
its messages' parameters, the order rule (“do X first”), the instance's disappearance, and the
evidence of a restore — its proof, what casts doubt on it, and whether the instance is still the
one the class made.

Apart from the checks so that the restore's evidence rules (docs/architecture.md §2,
docs/incus-facts.md §3) read in one place.
"""
from __future__ import annotations

from ...grading.engine import Context, Event, Verdict, consumed, failed, passed
from ...i18n import Message
from ..evidence_helpers import hms, not_done
from . import texts

FILE_PATH = "/root/this_file.txt"


def msg_params(ctx: Context) -> dict[str, str]:
    """The chapter's params that its messages name, and the file's path."""
    return {"container": ctx.params["container"], "snapshot": ctx.params["snapshot"], "path": FILE_PATH}


def instance_gone(ctx: Context) -> Verdict | None:
    """Every step needs the instance; its disappearance is the one mistake that undoes them all."""
    if ctx.observation.instance is not None:
        return None
    return failed(texts.INSTANCE_GONE.bind(**msg_params(ctx)), texts.INSTANCE_GONE_HINT.bind(**msg_params(ctx)),
                  "instance_deleted")


def do_first(ctx: Context, step_id: str) -> Verdict:
    """“Do X first”, naming the first step not done up to `step_id` (which is not done).

    Prerequisites are skipped: apart from a deleted instance (every check says so itself)
    they fail only on a stopped instance, which the chapter's own stop step causes."""
    order = list(texts.TITLES)
    first = next(s for s in order[1:order.index(step_id) + 1] if not_done(ctx, s) or s == step_id)
    return failed(texts.DO_FIRST.bind(step=texts.TITLES[first]), texts.NUDGES[first].bind(**msg_params(ctx)),
                  f"order:{first}")


def identity_problem(ctx: Context) -> Verdict | None:
    """With a baseline held by the class: is this still the instance the class made, untouched?

    volatile.* keys cannot be written by a learner, user.* keys can; so a new volatile.uuid means
    the instance was replaced (deleted and created again, or another one renamed to its name), and
    user.labkit.baseline.* keys that differ from the class's record mean someone changed them."""
    inst, base = ctx.observation.instance, ctx.history.baseline
    if inst is None or base is None or not base.trusted:
        return None
    if inst.uuid != base.uuid:
        return failed(texts.INSTANCE_REPLACED.bind(before=(base.uuid or "?")[:8], after=(inst.uuid or "?")[:8],
                                                   **msg_params(ctx)),
                      texts.INSTANCE_REPLACED_HINT.bind(**msg_params(ctx)), "instance_replaced")
    if (inst.baseline_uuid, inst.baseline_generation) != (base.uuid, base.generation):
        return failed(texts.BASELINE_CHANGED.bind(before=(base.generation or "?")[:8],
                                                  after=(inst.baseline_generation or "—")[:8], **msg_params(ctx)),
                      texts.BASELINE_CHANGED_HINT.bind(**msg_params(ctx)), "baseline_changed")
    return None


def restore_proof(ctx: Context) -> Verdict | None:
    """Lasting proof of a restore, or an event seen by a listener; None when there is neither."""
    inst, base = ctx.observation.instance, ctx.history.baseline
    if inst is None:
        return None
    event = ctx.history.saw("instance-restored", snapshot=f"{ctx.params['container']}/{ctx.params['snapshot']}")
    if event is not None:
        # Events come from the server while a listener runs: evidence no learner can write.
        return passed(texts.RESTORED.bind(**msg_params(ctx)),
                      texts.RESTORE_EVENT.bind(time=hms(event.time), **msg_params(ctx)))
    if identity_problem(ctx) is not None or restore_doubt(ctx) is not None:
        return None
    if base is not None and base.uuid == inst.uuid and inst.generation and base.generation != inst.generation:
        return passed(texts.RESTORED.bind(**msg_params(ctx)),
                      texts.GENERATION_CHANGED.bind(before=base.generation[:8], after=inst.generation[:8]))
    return None


def known_from_start(ctx: Context) -> bool:
    """Whether the baseline predates the chapter's restore, so that an unchanged generation proves
    that no restore happened.  It does when the class holds it, when `labkit setup` recorded it in
    the instance before any snapshot, when the instance had never been restored when it was taken
    (its generation was still its uuid), or when it was taken before the chapter's snapshot."""
    base, inst = ctx.history.baseline, ctx.observation.instance
    if base is None or inst is None:
        return False
    if base.trusted or base.generation == base.uuid or \
            (inst.recorded_generation is not None and inst.recorded_generation == base.generation):
        return True
    snap = ctx.observation.snapshot
    if snap is not None and snap.created_at is not None and base.recorded_at <= snap.created_at:
        return True
    created = ctx.history.saw("instance-snapshot-created", name=ctx.params["snapshot"])
    return created is not None and base.recorded_at <= created.time


def restore_unknown(ctx: Context) -> Verdict | None:
    """Not verified, never failed: the instance was restored at some time (its generation is no longer
    its uuid, as it is after a create or a copy), but labkit knew nothing of it before then — an instance
    labkit did not set up, checked for the first time at the chapter's end.  The snapshot, the file and
    the stop such a restore needs may all have been there; nothing left says so, or says otherwise."""
    inst = ctx.observation.instance
    if inst is None or not inst.generation or not inst.uuid or inst.generation == inst.uuid:
        return None
    if restore_proof(ctx) is not None or known_from_start(ctx):
        return None
    if identity_problem(ctx) is not None or restore_doubt(ctx) is not None:
        return None
    return consumed(texts.RESTORE_UNKNOWN.bind(**msg_params(ctx)),
                    texts.GENERATION_DIFFERS.bind(uuid=inst.uuid[:8], generation=inst.generation[:8]),
                    how=texts.RESTORE_UNKNOWN_HOW.bind(**msg_params(ctx)))


def restore_doubt(ctx: Context) -> Verdict | None:
    """What a listener saw that explains a new generation otherwise than by the chapter's restore.

    volatile.uuid.generation changes at *any* restore: of another snapshot (“incus snapshot create
    {container} x”, then restore x: no ubuntu-test-1 ever), or while the instance bore another name
    (renamed away, restored, renamed back: no event names the lab's instance).  Called only when no
    restore of the chapter's snapshot was seen."""
    renamed = ctx.history.saw("instance-renamed", old_name=ctx.params["container"])
    if renamed is not None:
        return failed(texts.INSTANCE_RENAMED.bind(name=renamed.context.get("name") or "?", time=hms(renamed.time),
                                                  **msg_params(ctx)),
                      texts.INSTANCE_RENAMED_HINT.bind(**msg_params(ctx)), "instance_renamed")
    other = ctx.history.saw("instance-restored")
    if other is not None:
        return failed(texts.RESTORED_FROM_OTHER.bind(other=str(other.context.get("snapshot") or "?").split("/", 1)[-1],
                                                     **msg_params(ctx)),
                      texts.RESTORED_FROM_OTHER_HINT.bind(**msg_params(ctx)), "wrong_snapshot_restored")
    return None


def status_now(ctx: Context) -> Message:
    """Evidence: the instance's status when the observation was taken."""
    inst = ctx.observation.instance
    return texts.STATUS_NOW.bind(status=inst.status if inst else "?", time=hms(ctx.observation.taken_at),
                                 **msg_params(ctx))


def started_after_restore(ctx: Context) -> Message | None:
    """Evidence: the start a listener saw after the restore of the chapter's snapshot, if it saw one."""
    restored = ctx.history.saw("instance-restored", snapshot=f"{ctx.params['container']}/{ctx.params['snapshot']}")
    started = ctx.history.saw("instance-started")
    if restored is None or started is None or started.time < restored.time:
        return None
    return texts.START_EVENT.bind(time=hms(started.time))


def before_restore(ctx: Context) -> Event | None:
    """What the instance did just before the restore that a listener saw, if it saw one:
    a stop (the chapter's way) or a start (Incus' own restart around a running restore)."""
    events = sorted(ctx.history.events, key=lambda e: e.time)
    wanted = f"{ctx.params['container']}/{ctx.params['snapshot']}"
    restored = [i for i, e in enumerate(events)
                if e.action == "instance-restored" and e.context.get("snapshot") == wanted]
    if not restored:
        return None
    for event in reversed(events[:restored[-1]]):
        if event.action in ("instance-stopped", "instance-shutdown", "instance-started"):
            return event
    return None
