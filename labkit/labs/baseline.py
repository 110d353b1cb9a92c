"""The instance's identity at the start of an attempt, kept in the instance itself.

`volatile.uuid.generation` changes at every restore: comparing it with the value
recorded before any snapshot proves a restore even when nobody checked in between.
Recorded in user.* config *before* the first snapshot, the value is in every
snapshot too, so a restore brings it back unchanged.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..incus.client import IncusClient

BASELINE_UUID, BASELINE_GENERATION = "user.labkit.baseline.uuid", "user.labkit.baseline.generation"


def baseline_config(config: dict[str, Any], generation: str | None = None) -> dict[str, Any]:
    return {BASELINE_UUID: config.get("volatile.uuid"),
            BASELINE_GENERATION: generation or config.get("volatile.uuid.generation")}


def record_baseline(client: IncusClient, name: str, project: str | None = None) -> None:
    """Record the instance's current identity as the start of a new attempt."""
    params = {"project": project} if project else None
    config = (client.request("GET", f"/1.0/instances/{quote(name)}", params=params) or {}).get("config") or {}
    client.request("PATCH", f"/1.0/instances/{quote(name)}", params=params, json={"config": baseline_config(config)})
