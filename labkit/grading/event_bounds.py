"""How a journal keeps its events bounded without losing a chapter's evidence (the chapter's rule
is its `contract.Retention`)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .contract import Retention

# Per action, the newest this many events are kept.  A learner can cause thousands (snapshots made
# and deleted in a loop, execs that each change the file), every write rewrites the whole journal,
# and the checks only need the latest of each kind and the order around the restore.
KEPT_PER_ACTION = 50


def bounded(events: list[dict[str, Any]], params: dict[str, str], retention: Retention = Retention()
            ) -> list[dict[str, Any]]:
    """`events` without the oldest (by time, so a late copy of an old event stays out) of any kind seen more
    than KEPT_PER_ACTION times; the order of those kept is unchanged.  A kind is an action, with the events
    the chapter counts apart (`retention.counted_apart`) as a kind of their own, so that a flood of others
    never pushes them out; and the events the chapter must keep (`retention.always_kept`) always stay."""
    def kind(event: dict[str, Any]) -> tuple[str, bool]:
        return event["action"], retention.counted_apart(event, params)

    counts: dict[tuple[str, bool], int] = {}
    for event in events:
        counts[kind(event)] = counts.get(kind(event), 0) + 1
    if all(n <= KEPT_PER_ACTION for n in counts.values()):
        return events
    times = [datetime.fromisoformat(e["time"]) for e in events]
    newest = sorted(range(len(events)), key=lambda i: times[i], reverse=True)
    kept, taken = set(), dict.fromkeys(counts, 0)
    for i in newest:
        if taken[kind(events[i])] < KEPT_PER_ACTION:
            taken[kind(events[i])] += 1
            kept.add(i)
    kept |= retention.always_kept(events, times)
    return [e for i, e in enumerate(events) if i in kept]


def event_key(event: dict[str, Any]) -> tuple[str, str, str]:
    return (event["action"], event["time"], json.dumps(event.get("context") or {}, sort_keys=True))
