"""Root disk sizes that hold on a btrfs pool: quotas on from the start, and counted.

Incus enforces an instance's root size on btrfs with a qgroup limit, and turns quotas on
the first time a volume needs one, over whatever the pool already holds.  Seen on these
machines (Incus 6.0.4, kernel 6.18): on a busy pool, after deletions, the kernel marked
the qgroups inconsistent (“to be deleted qgroup 0/323 has non-zero numbers”) and from then
on stopped counting new writes: a learner wrote 400 MiB into a 300 MiB root.  Only a
rescan makes the limits hold again, until the next such deletion (on the shared pool of
8 busy engineers: every one to two minutes; on a pool used by one class: not seen).  So
labkit turns quotas on while the pool is empty,
turns them on (and counts) before a class copies anything, and looks at the kernel's flag
whenever the instructor looks at the class, starting a rescan when it is up.

This needs the pool on this machine (the daemon's folder is local) and root to rescan;
through a remote server there is nothing to look at, and nothing is said.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import uuid
from functools import lru_cache
from pathlib import Path

from ..i18n import M, Message
from ..incus.client import IncusClient

FS_INFO = 0x8400941F  # BTRFS_IOC_FS_INFO: _IOR(0x94, 31, struct btrfs_ioctl_fs_info_args), 1024 bytes
RESCAN_SECONDS = 120


def pool_path(client: IncusClient, pool: str) -> Path | None:
    """Where the daemon mounts `pool`, when that is on this machine."""
    if client.endpoint.remote is not None:
        return None
    path = client.endpoint.socket.parent / "storage-pools" / pool
    return path if path.is_dir() else None


@lru_cache(maxsize=None)
def _sysfs(path: Path) -> Path | None:
    """/sys/fs/btrfs/<fsid> of the btrfs filesystem mounted at `path` (None for any other)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        args = bytearray(1024)
        fcntl.ioctl(fd, FS_INFO, args)
    except OSError:  # not btrfs
        return None
    finally:
        os.close(fd)
    return Path("/sys/fs/btrfs") / str(uuid.UUID(bytes=bytes(args[16:32])))


def state(path: Path) -> str:
    """“off”, “counted”, “inconsistent” (writes are not counted: limits do not hold) or “unknown”."""
    folder = _sysfs(path)
    if folder is None:
        return "unknown"
    try:
        if not (folder / "qgroups").is_dir() or (folder / "qgroups" / "enabled").read_text().strip() == "0":
            return "off"
        return "inconsistent" if (folder / "qgroups" / "inconsistent").read_text().strip() == "1" else "counted"
    except OSError:
        return "unknown"


def _btrfs(*args: str, timeout: float = RESCAN_SECONDS) -> bool:
    try:
        return subprocess.run(["btrfs", *args], capture_output=True, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _start_rescan(path: Path) -> None:
    """Not awaited: `class status` stays fast. (A running rescan makes this one fail: fine. Python reaps
    the process at a later Popen.)"""
    try:
        subprocess.Popen(["btrfs", "quota", "rescan", str(path)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        pass


def ensure_counted(client: IncusClient, pool: str) -> None:
    """Before learners' volumes are made: quotas on (Incus would turn them on later, over a busy pool)
    and consistent, waiting for the rescan (a fraction of a second on a lab's pool)."""
    path = pool_path(client, pool)
    if path is None or os.geteuid() != 0:
        return
    found = state(path)
    if found == "off":
        _btrfs("quota", "enable", str(path))  # the kernel counts what is there: wait for it (-W)
        _btrfs("quota", "rescan", "-W", str(path))
    elif found == "inconsistent":  # start a rescan and wait, or wait for the one running
        _btrfs("quota", "rescan", "-w", str(path)) or _btrfs("quota", "rescan", "-W", str(path))


def check_counted(client: IncusClient, pools: set[str]) -> list[Message]:
    """While a class runs: a warning per pool whose limits do not hold now; a rescan is started (not awaited)."""
    warnings = []
    for pool in sorted(pools):
        path = pool_path(client, pool)
        if path is None or state(path) != "inconsistent":
            continue
        if os.geteuid() == 0:
            _start_rescan(path)
            warnings.append(M(
                "class.status.quota_rescan",
                "Disk limits do not hold on the pool “{pool}” right now: btrfs stopped counting writes (quota "
                "data inconsistent), so learners can write past their root disk size. A rescan has been "
                "started; it usually ends within seconds.", pool=pool))
        else:
            warnings.append(M(
                "class.status.quota_inconsistent",
                "Disk limits do not hold on the pool “{pool}” right now: btrfs stopped counting writes (quota "
                "data inconsistent), so learners can write past their root disk size. As root, run "
                "“btrfs quota rescan -w {path}”.", pool=pool, path=str(path)))
    return warnings
