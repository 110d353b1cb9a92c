"""What the event recorder (app/recorder.py) kept of the “container snapshots” chapter's file, as
evidence for its `touch` step once the restore has removed the file: the daemon's report of a `touch`
run in the instance (load-independent), and the recorder's own looks at the file (HEAD on the files API).

Only the daemon's answers count (command, exit code and times it reported; the file's presence and
mtime; the snapshot's time), and the same rule as a live check applies: after the snapshot, before
the restore, never a time to come."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ...grading.engine import EXEC_ENDED, FILE_SEEN, Context, Event, Verdict, passed
from ...i18n import M
from ..evidence_helpers import hms
from .evidence import FILE_PATH, msg_params

# A file time further in the future than this is not a clock's skew but a time set by hand
# (touch -d 2099-01-01), or a time before 1901 that Incus' 32-bit file times wrapped past 2038.
FUTURE_SKEW = timedelta(seconds=5)


# The commands that create the chapter's file and nothing else, as the daemon reports them.
TOUCHES = (("touch", FILE_PATH), ("/usr/bin/touch", FILE_PATH), ("/bin/touch", FILE_PATH))


def recorded_touch(ctx: Context) -> Verdict | None:
    return _made_by_exec(ctx) or _seen_by_recorder(ctx)


def _chapter_restores(ctx: Context, events: list[Event]) -> list[datetime]:
    wanted = f"{ctx.params['container']}/{ctx.params['snapshot']}"
    return [e.time for e in events if e.action == "instance-restored" and e.context.get("snapshot") == wanted]


def _made_by_exec(ctx: Context) -> Verdict | None:
    """`incus exec {container} -- touch /root/this_file.txt`, ended with exit code 0 after the snapshot
    was taken and before the chapter's restore (a restore the recorder saw: without it, nothing orders
    the two), or, the file still there and not restored, after the snapshot (a same-second tie the
    files API's whole seconds cannot order).  A touch creates the file, or gives it the current time."""
    events = sorted(ctx.history.events, key=lambda e: e.time)
    restores = _chapter_restores(ctx, events)
    if not restores and not ctx.observation.file_present:
        return None  # gone, and no restore seen: removed by other means, or restored unseen
    for ran in reversed(events):
        if ran.action != EXEC_ENDED or (restores and ran.time >= restores[-1]) or ran.context.get("return") != 0 \
                or tuple(ran.context.get("command") or ()) not in TOUCHES:
            continue
        taken = _snapshot_time_before(ctx, events, ran.time)
        if taken is None or taken >= ran.time:
            continue
        return passed(M("snap.touch.ok_exec", "{path} was created after the snapshot and before the restore.",
                        **msg_params(ctx)),
                      M("snap.evidence.touch_exec", "Incus reported at {time} the end of “{command}” in {container} "
                                                    "(exit code 0); snapshot taken at {snap} (UTC).",
                        time=hms(ran.time), command=" ".join(ran.context["command"]), snap=hms(taken),
                        **msg_params(ctx)))
    return None


def _seen_by_recorder(ctx: Context) -> Verdict | None:
    """The file as the event recorder saw it after an exec or at a stop, before the restore:
    what a check of this step would have seen then.  Only the daemon's answers count (the
    file's presence and mtime, the snapshot's time); the same rule as a live check applies."""
    events = sorted(ctx.history.events, key=lambda e: e.time)
    restores = _chapter_restores(ctx, events)
    for seen in reversed(events):
        if seen.action != FILE_SEEN or seen.context.get("path") != FILE_PATH or not seen.context.get("present"):
            continue
        if restores and seen.time >= restores[-1]:
            continue  # after the restore: not the file the restore was meant to remove
        taken = _snapshot_time_before(ctx, events, seen.time)
        modified = datetime.fromisoformat(seen.context["modified"]) if seen.context.get("modified") else None
        # A sighting in the snapshot's own second (whole seconds here) or in the future proves nothing.
        if taken is None or modified is None or int(modified.timestamp()) <= int(taken.timestamp()) \
                or modified > seen.time + FUTURE_SKEW:
            continue
        return passed(M("snap.touch.ok_seen", "{path} was there before the restore, newer than the snapshot.",
                        **msg_params(ctx)),
                      M("snap.evidence.file_seen", "The event recorder saw {path} at {seen} (modified at {file}); "
                                                   "snapshot taken at {snap} (UTC).",
                        seen=hms(seen.time), file=hms(modified), snap=hms(taken), **msg_params(ctx)))
    return None


def _snapshot_time_before(ctx: Context, events: list[Event], moment: datetime) -> datetime | None:
    snap = ctx.observation.snapshot
    if snap is not None and snap.created_at is not None and snap.created_at <= moment:
        return snap.created_at
    created = [e.time for e in events if e.action == "instance-snapshot-created"
               and e.context.get("name") == ctx.params["snapshot"] and e.time <= moment]
    return created[-1] if created else None


def last_sightings_before_restore(events: list[dict[str, Any]], times: list[datetime]) -> set[int]:
    """The journal's retention hook (contract.Retention.always_kept): the last look at the file and
    the last command naming it before the last restore, what `touch` is graded on once the restore
    has removed the file, stay however many events came after."""
    restores = [times[i] for i, e in enumerate(events) if e["action"] == "instance-restored"]
    kept = set()
    for action in (FILE_SEEN, EXEC_ENDED):
        before = [i for i, e in enumerate(events) if e["action"] == action and restores and times[i] < max(restores)]
        if before:
            kept.add(max(before, key=lambda i: times[i]))
    return kept
