"""The local Debian image, for machines where no image server answers (docs/incus-facts.md §3).

`debootstrap --variant=minbase` plus `systemd-sysv` (Incus starts `/sbin/init`),
tarred as `rootfs.tar.gz` beside a `metadata.tar`, imported with `incus image import`.
The tarballs are cached outside the repository so only the first build costs a minute.
Image lookup and the import of these tarballs are in image.py.
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import platform
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SetupError
from ..i18n import M
from .install import Runner, run_logged

CACHE_ROOT = Path("/var/cache/labkit/images")
METADATA_TAR = "metadata.tar"
ROOTFS_TAR = "rootfs.tar.gz"

# dpkg architecture names -> the names Incus uses (the kernel's).
INCUS_ARCHITECTURES = {
    "amd64": "x86_64", "arm64": "aarch64", "armhf": "armv7l", "i386": "i686",
    "ppc64el": "ppc64le", "riscv64": "riscv64", "s390x": "s390x",
}  # fmt: skip
# Incus fills these in when an instance is created or copied, so each container
# knows its own name instead of the name of the machine that built the image.
_TEMPLATES = {
    "hostname.tpl": "{{ container.name }}\n",
    "hosts.tpl": "127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n"
    "::1 localhost ip6-localhost ip6-loopback\n",
}


@dataclass(frozen=True)
class Recipe:
    """What an image holds beyond debootstrap's minbase: the lab's image needs only an init; the
    hub's workspace image (hub/workspace_image.py) adds Python, locales and the incus client."""

    include: tuple[str, ...] = ("systemd-sysv",)  # Incus starts /sbin/init
    extra_suites: tuple[str, ...] = ()  # e.g. bookworm-backports, for a package only there
    variant: str = "minbase"  # named in the image's properties
    finish: Callable[[Path, Path], None] | None = None  # (chroot, log): last steps before the tarball


LAB_RECIPE = Recipe()


def incus_architecture(dpkg_arch: str) -> str:
    try:
        return INCUS_ARCHITECTURES[dpkg_arch]
    except KeyError:
        raise SetupError(M(
            "setup.unsupported_architecture",
            "labkit does not know the Incus name of the architecture {arch}, so it cannot "
            "build a local image for it. Use an image server instead (images:debian/12), "
            "or import an image yourself.",
            arch=dpkg_arch,
        )) from None


def image_metadata(arch: str, suite: str, created: int, variant: str = "minbase") -> dict[str, Any]:
    """The content of `metadata.yaml` for a Debian `suite` image of dpkg `arch`."""
    return {
        "architecture": incus_architecture(arch),
        "creation_date": created,
        "properties": {
            "os": "Debian",
            "release": suite,
            "architecture": arch,
            "description": f"Debian {suite} {arch} (labkit, {variant})",
            "variant": variant,
        },
        "templates": {
            "/etc/hostname": {"when": ["create", "copy"], "template": "hostname.tpl"},
            "/etc/hosts": {"when": ["create", "copy"], "template": "hosts.tpl"},
        },
    }


def metadata_yaml(value: dict[str, Any], indent: int = 0) -> str:
    """Block YAML with JSON-quoted strings (valid YAML), so no YAML library is needed."""
    lines = []
    for key, item in value.items():
        head = " " * indent + json.dumps(key) + ":"
        if isinstance(item, dict):
            lines.append(head + "\n" + metadata_yaml(item, indent + 2))
        else:  # str, int and lists of strings are all JSON, hence YAML flow values
            lines.append(f"{head} {json.dumps(item)}\n")
    return "".join(lines)


def host_arch() -> str:
    """This machine's dpkg architecture (`amd64`, `arm64`)."""
    try:  # dpkg's answer, not the kernel's: a 32-bit userland may run on a 64-bit kernel
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        reverse = {v: k for k, v in INCUS_ARCHITECTURES.items()}
        return reverse.get(platform.machine(), platform.machine())


def default_cache_dir(suite: str, arch: str | None = None) -> Path:
    return CACHE_ROOT / f"{suite}-{arch or host_arch()}"


def build_debian_image(
    mirror: str,
    suite: str,
    cache_dir: Path | None,
    log: Path,
    *,
    arch: str | None = None,
    runner: Runner = run_logged,
    now: Callable[[], float] = time.time,
    recipe: Recipe = LAB_RECIPE,
) -> tuple[Path, Path]:
    """Return `(metadata.tar, rootfs.tar.gz)`, building them only when not cached.

    `arch` names the image in the metadata; debootstrap always builds for this host.
    """
    arch = arch or host_arch()
    cache_dir = cache_dir or default_cache_dir(suite, arch)
    meta, rootfs = cache_dir / METADATA_TAR, cache_dir / ROOTFS_TAR
    if _complete(meta, rootfs):
        return meta, rootfs
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("w") as lock:
        # Two setups at once would both build; the second waits, then finds the cache.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(meta, rootfs):
            return meta, rootfs
        for stale in cache_dir.glob(".build-*"):
            _remove_tree(stale, log)  # left by a build that was killed
        work = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".build-"))
        try:
            _build(mirror, suite, arch, work, log, runner, int(now()), recipe)
            # Final names last, metadata after rootfs: both present means complete.
            os.replace(work / ROOTFS_TAR, rootfs)
            os.replace(work / METADATA_TAR, meta)
        except BaseException:
            if not _complete(meta, rootfs):
                rootfs.unlink(missing_ok=True)
                meta.unlink(missing_ok=True)
            raise
        finally:
            _remove_tree(work, log)
    return meta, rootfs


def _complete(meta: Path, rootfs: Path) -> bool:
    return all(p.is_file() and p.stat().st_size > 0 for p in (meta, rootfs))


def _build(mirror: str, suite: str, arch: str, work: Path, log: Path, runner: Runner, created: int,
           recipe: Recipe = LAB_RECIPE) -> None:
    chroot = work / "rootfs"
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(recipe.include)}",
            *([f"--extra-suites={','.join(recipe.extra_suites)}"] if recipe.extra_suites else []),
            suite, str(chroot), mirror]
    code = runner(argv, log)
    if code != 0:
        # debootstrap writes its details inside the chroot, which is about to go.
        inner = chroot / "debootstrap" / "debootstrap.log"
        if inner.is_file():
            with log.open("a", encoding="utf-8") as out:
                out.write(f"--- {inner} ---\n{inner.read_text(encoding='utf-8', errors='replace')}\n")
        raise _command_failed("debootstrap", code, log)
    if recipe.finish is not None:
        recipe.finish(chroot, log)
    _tidy_rootfs(chroot)
    _unmount_below(chroot, log)  # never tar (or later delete) a host /proc or /dev
    tar = ["tar", "--numeric-owner", "--one-file-system", "--exclude=./dev/*",
           "-czf", str(work / ROOTFS_TAR), "-C", str(chroot), "."]  # fmt: skip
    code = runner(tar, log)
    if code != 0:
        raise _command_failed("tar", code, log)
    _write_metadata_tar(work / METADATA_TAR, image_metadata(arch, suite, created, recipe.variant))


def _command_failed(command: str, code: int, log: Path) -> SetupError:
    if code == 127:
        return SetupError(M(
            "setup.command_missing",
            "The command {command} was not found, so the local Debian image cannot be "
            "built. Install it (sudo apt-get install {command}, or run the setup as root), "
            "then run the setup again.",
            command=command,
        ))
    return SetupError(M(
        "setup.image_build_failed",
        "Building the local Debian image failed: {command} exited with code {code}. The "
        "log is in {log}; read its end, fix the cause (often the Debian mirror cannot be "
        "reached, or the disk is full), then run the setup again.",
        command=command, code=code, log=str(log),
    ))


def _tidy_rootfs(chroot: Path) -> None:
    # debootstrap copies the build host's /etc/hostname; the templates write the
    # container's own.  An empty machine-id makes systemd generate one per container.
    (chroot / "etc" / "hostname").unlink(missing_ok=True)
    machine_id = chroot / "etc" / "machine-id"
    if machine_id.exists():
        machine_id.write_text("")
    # debootstrap keeps the ~40 MB of packages it downloaded; the image needs none.
    for deb in (chroot / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        deb.unlink()


def _write_metadata_tar(path: Path, metadata: dict[str, Any]) -> None:
    files = {"metadata.yaml": metadata_yaml(metadata)}
    files.update({f"templates/{name}": text for name, text in _TEMPLATES.items()})
    with tarfile.open(path, "w") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(metadata["creation_date"])
            tar.addfile(info, io.BytesIO(data))


def _unmount_below(root: Path, log: Path) -> None:
    """Unmount what a killed debootstrap may have left mounted (/proc, /sys, a bound /dev)."""
    prefix = str(root.resolve()) + "/"
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    points = [line.split()[4].encode().decode("unicode_escape") for line in lines]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        run_logged(["umount", "--lazy", point], log)  # deepest first


def _remove_tree(path: Path, log: Path) -> None:
    """Delete a build folder without ever following a leftover mount into the host."""
    if not path.exists():
        return
    _unmount_below(path, log)
    run_logged(["rm", "-rf", "--one-file-system", str(path)], log)
