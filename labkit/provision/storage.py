"""Initialising an empty Incus server for the lab: one storage pool and a root disk, no network.

`incus admin init --minimal` wants a bridge with a free IPv4 subnet, which these
machines do not have; the lab needs no network at all, so we configure storage only.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any

from . import quotas
from ..errors import IncusRequestFailed, SetupError
from ..i18n import M
from ..incus.client import IncusClient

POOL_NAME = "default"
BTRFS_SIZE = "15GiB"


@dataclass(frozen=True)
class StorageState:
    pool: str
    driver: str
    created: bool


def pool_request(name: str, driver: str) -> dict[str, Any]:
    config = {"size": BTRFS_SIZE} if driver == "btrfs" else {}
    return {"name": name, "driver": driver, "config": config, "description": "labkit"}


def root_disk(pool: str) -> dict[str, str]:
    return {"type": "disk", "path": "/", "pool": pool}


def has_root_disk(profile: dict[str, Any]) -> bool:
    return any(dev.get("type") == "disk" and dev.get("path") == "/" for dev in (profile.get("devices") or {}).values())


def preferred_drivers(btrfs_available: bool | None = None) -> list[str]:
    if btrfs_available is None:
        btrfs_available = shutil.which("mkfs.btrfs") is not None
    # btrfs makes snapshots and copies nearly free; dir always works.
    return ["btrfs", "dir"] if btrfs_available else ["dir"]


def ensure_storage(client: IncusClient, drivers: list[str] | None = None) -> StorageState:
    pools = client.request("GET", "/1.0/storage-pools", params={"recursion": 1}, project=False) or []
    if pools:
        chosen = next((p for p in pools if p["name"] == POOL_NAME), pools[0])
        if chosen["driver"] == "btrfs":  # an installation from before quotas were turned on here
            quotas.ensure_counted(client, chosen["name"])
        return StorageState(chosen["name"], chosen["driver"], False)
    errors: list[str] = []
    for driver in drivers or preferred_drivers():
        try:
            client.request("POST", "/1.0/storage-pools", json=pool_request(POOL_NAME, driver), project=False)
            if driver == "btrfs":  # while it is empty: nothing to rescan (quotas.py says why)
                quotas.ensure_counted(client, POOL_NAME)
            return StorageState(POOL_NAME, driver, True)
        except IncusRequestFailed as exc:
            errors.append(f"{driver}: {exc}")
    raise SetupError(M("setup.no_storage", "Incus could not create a storage pool ({detail}). Check the free disk space and the daemon log.", detail="; ".join(errors)))


def ensure_root_disk(client: IncusClient, pool: str, profile: str = "default") -> bool:
    """Give the profile a root disk on the pool; return whether we changed it."""
    current = client.request("GET", f"/1.0/profiles/{profile}")
    if has_root_disk(current):
        return False
    devices = dict(current.get("devices") or {})
    devices["root"] = root_disk(pool)
    client.request("PUT", f"/1.0/profiles/{profile}", json={
        "config": current.get("config") or {}, "description": current.get("description", ""), "devices": devices,
    })
    return True
