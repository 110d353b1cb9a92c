"""Storage for labs and classes: one storage pool, and root disks in profiles; no network.

`incus admin init --minimal` wants a bridge with a free IPv4 subnet, which these
machines do not have; the lab needs no network at all, so we configure storage only.
The one place that chooses a pool and writes a root disk (setup, the snapshot server, classes).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any

from ..errors import IncusRequestFailed, SetupError
from ..i18n import M
from ..incus.client import IncusClient
from . import quotas

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


def root_disk(pool: str, size: str | None = None) -> dict[str, str]:
    return {"type": "disk", "path": "/", "pool": pool} | ({"size": size} if size else {})


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
    raise SetupError(M("setup.no_storage", "Incus could not create a storage pool ({detail}). "
                                           "Check the free disk space and the daemon log.", detail="; ".join(errors)))


def default_pool(client: IncusClient) -> str:
    """The pool of the default project's default profile (where `labkit setup` put it), else the first pool."""
    profile = client.request("GET", "/1.0/profiles/default", params={"project": "default"}, project=False) or {}
    root = (profile.get("devices") or {}).get("root") or {}
    if root.get("pool"):
        return str(root["pool"])
    pools = client.request("GET", "/1.0/storage-pools", project=False) or []
    if not pools:
        raise SetupError(M("class.create.no_pool", "This Incus server has no storage pool. Run “labkit setup” first, "
                           "or pass --pool."))
    return pools[0].rsplit("/", 1)[-1]


def ensure_root_disk(client: IncusClient, pool: str, profile: str = "default", *, project: str | None = None,
                     size: str | None = None, config: dict[str, str] | None = None, exact: bool = False) -> bool:
    """Give the profile (of `project`, else the client's) a root disk on the pool, and `config`;
    return whether we changed it.

    By default a root disk already there is kept, wherever it points: on a server labkit did not
    set up, it is somebody's choice.  `exact` (a class's own projects) makes it this pool and size."""
    params = {"project": project} if project else None
    current = client.request("GET", f"/1.0/profiles/{profile}", params=params) or {}
    devices, settings = dict(current.get("devices") or {}), dict(current.get("config") or {})
    wanted = root_disk(pool, size)
    disk_ok = devices.get("root") == wanted if exact else has_root_disk(current)
    if disk_ok and all(settings.get(k) == v for k, v in (config or {}).items()):
        return False
    if not disk_ok:
        devices["root"] = wanted
    client.request("PUT", f"/1.0/profiles/{profile}", params=params, json={
        "config": settings | (config or {}), "description": current.get("description", ""), "devices": devices,
    })
    return True
