"""Journal retention rules the chapters share (contract.Retention)."""
from __future__ import annotations

from typing import Any

from ..grading.contract import INSTANCE_PARAM, SNAPSHOT_PARAM


def own_snapshot(event: dict[str, Any], params: dict[str, str]) -> bool:
    """An event about the chapter's own snapshot: counted apart, so that a flood about other
    snapshots (made and deleted in a loop) never pushes out its evidence."""
    context = event.get("context") or {}
    snapshot = params.get(SNAPSHOT_PARAM, "")
    return context.get("name") == snapshot or context.get("snapshot") == f"{params[INSTANCE_PARAM]}/{snapshot}"
