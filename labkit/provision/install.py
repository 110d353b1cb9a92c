"""Install the system packages labkit needs (Incus, debootstrap, btrfs-progs) as root,
and those its tests need (chromium, fonts) for `labkit setup --test-tools`.

The plan is pure data computed from `/etc/os-release`, so which distribution gets
what is unit-tested; `install_packages` carries it out with apt-get, logging to a
file, and does nothing at all (not even `apt-get update`) when every package is there.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import SetupError
from ..i18n import M, Message
from .aptsources import ensure_backports, find_debian_mirror, read_os_release

# Debian codenames that predate Incus in the main archive; a Debian without
# VERSION_ID (testing, unstable) whose codename is not here is newer than 12.
_OLD_DEBIAN = frozenset({"bookworm", "bullseye", "buster", "stretch"})
_INSTALL_DOCS = "https://linuxcontainers.org/incus/docs/main/installing/"


@dataclass(frozen=True)
class Distro:
    id: str  # "debian", "ubuntu", ...
    version_id: str  # "12", "24.04"; empty on Debian testing/unstable
    codename: str  # "bookworm", "noble"
    id_like: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackageGroup:
    """Packages installed by one apt-get call."""

    packages: tuple[str, ...]
    target_release: str | None = None  # apt-get -t, e.g. "bookworm-backports"
    optional: bool = False  # a failure is logged and skipped, not raised


@dataclass(frozen=True)
class InstallPlan:
    groups: tuple[PackageGroup, ...]
    backports: str | None = None  # codename whose -backports suite must be added first

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(p for g in self.groups for p in g.packages)


class Runner(Protocol):
    def __call__(self, argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None) -> int: ...


def detect_distro(os_release: Path = Path("/etc/os-release")) -> Distro:
    try:
        values = read_os_release(os_release)
    except OSError as exc:
        raise SetupError(M(
            "setup.os_release_unreadable",
            "{path} could not be read ({detail}), so labkit cannot tell which system this "
            "is. Install Incus, debootstrap and btrfs-progs by hand, then run the setup again.",
            path=str(os_release), detail=str(exc),
        )) from exc
    return Distro(
        id=values.get("ID", "").lower(),
        version_id=values.get("VERSION_ID", ""),
        codename=values.get("VERSION_CODENAME", ""),
        id_like=tuple(values.get("ID_LIKE", "").lower().split()),
    )


def incus_install_plan(distro: Distro) -> InstallPlan:
    """Where Incus comes from on this distribution, plus the image-building tools."""
    tools = (PackageGroup(("debootstrap",)), PackageGroup(("btrfs-progs",), optional=True))
    version = _version_tuple(distro.version_id)
    if distro.id == "debian":
        if version[:1] == (12,):
            codename = distro.codename or "bookworm"
            incus = PackageGroup(("incus",), target_release=f"{codename}-backports")
            return InstallPlan((incus, *tools), backports=codename)
        if version >= (13,) or (not version and distro.codename not in _OLD_DEBIAN | {""}):
            return InstallPlan((PackageGroup(("incus",)), *tools))
    if distro.id == "ubuntu" and version >= (24, 4):
        return InstallPlan((PackageGroup(("incus",)), *tools))
    raise SetupError(M(
        "setup.unsupported_distro",
        "labkit cannot install Incus automatically on {distro} {version}: it knows how "
        "only on Debian 12 or later and Ubuntu 24.04 or later. Install Incus 6.0 or later "
        "by hand (see {docs}), plus debootstrap, then run the setup again.",
        distro=distro.id or "?", version=distro.version_id or distro.codename or "?", docs=_INSTALL_DOCS,
    ))


def _version_tuple(version_id: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version_id.split(".")) if version_id else ()
    except ValueError:
        return ()


def is_root() -> bool:
    return os.geteuid() == 0


def run_logged(argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None) -> int:
    """Run a command with stdin closed and its output appended to `log`; return its exit code.

    A missing command gives 127, like a shell, after saying so in the log.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(argv)}    # {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        out.flush()
        try:
            done = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=None if env is None else {**os.environ, **env},
                check=False,
            )
        except FileNotFoundError:
            out.write(f"command not found: {argv[0]}\n")
            return 127
    return done.returncode


def installed_packages(names: Sequence[str]) -> set[str]:
    """The subset of `names` dpkg reports as installed (not merely known or removed)."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\\n", *names],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,  # exit 1 just means some name is unknown to dpkg
    )
    found = set()
    for line in done.stdout.splitlines():
        name, _, status = line.partition(" ")
        if status.split()[-1:] == ["installed"]:
            found.add(name)
    return found


_APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}
# Wait for another apt process instead of failing at once, keep the log free of
# progress bars, and never stop to ask about a changed configuration file.
_APT_OPTIONS = (
    "-o", "DPkg::Lock::Timeout=120",
    "-o", "Dpkg::Use-Pty=0",
    "-o", "Dpkg::Options::=--force-confdef",
    "-o", "Dpkg::Options::=--force-confold",
)  # fmt: skip


def install_packages(
    plan: InstallPlan,
    log: Path,
    *,
    runner: Runner = run_logged,
    installed: Callable[[Sequence[str]], set[str]] = installed_packages,
    apt_dir: Path = Path("/etc/apt"),
) -> None:
    """Install what the plan lists and the system lacks; a second run does nothing."""
    have = installed(plan.packages)
    todo = [(g, tuple(p for p in g.packages if p not in have)) for g in plan.groups]
    todo = [(g, missing) for g, missing in todo if missing]
    if not todo:
        return
    wanted = " ".join(p for _, missing in todo for p in missing)
    if not is_root():
        raise SetupError(M(
            "setup.needs_root",
            "Installing {packages} needs root. Run the setup again with sudo, or install "
            "these packages yourself with apt-get.",
            packages=wanted,
        ))
    if plan.backports and any(g.target_release for g, _ in todo):
        mirror = find_debian_mirror(apt_dir, plan.backports)
        ensure_backports(apt_dir, mirror, plan.backports)
    code = runner(["apt-get", *_APT_OPTIONS, "update"], log, env=_APT_ENV)
    if code != 0:
        raise SetupError(M(
            "setup.apt_update_failed",
            "apt-get update failed (exit code {code}), so {packages} could not be "
            "installed. Read the end of {log}, fix the apt sources or the access to the "
            "mirror, then run the setup again.",
            code=code, packages=wanted, log=str(log),
        ))
    for group, missing in todo:
        release = ["-t", group.target_release] if group.target_release else []
        argv = ["apt-get", *_APT_OPTIONS, "install", "-y", "--no-install-recommends", *release, *missing]
        code = runner(argv, log, env=_APT_ENV)
        if code == 0:
            continue
        if group.optional:
            # btrfs-progs only speeds snapshots up; without it the setup uses `dir`.
            with log.open("a", encoding="utf-8") as out:
                out.write(f"optional packages not installed, continuing: {' '.join(missing)}\n")
            continue
        raise SetupError(M(
            "setup.apt_install_failed",
            "Installing {packages} with apt-get failed (exit code {code}). Read the end of "
            "{log}, fix the cause (often a broken apt source, or another apt process "
            "holding the lock), then run the setup again.",
            packages=" ".join(missing), code=code, log=str(log),
        ))


# What `make test` needs beyond labkit itself: Debian's chromium for the browser tests
# (Playwright drives it; no browser is ever downloaded), fonts-dejavu-core for the
# ✔ ✘ ➜ ⚠ glyphs in the screenshots they take, and stress-ng for the grading tests run
# under CPU pressure (tests/integration/test_under_load.py).
TEST_TOOLS = InstallPlan((PackageGroup(("chromium", "fonts-dejavu-core", "stress-ng")),))


def ensure_test_tools(
    log: Path,
    say: Callable[[Message], None],
    *,
    runner: Runner = run_logged,
    installed: Callable[[Sequence[str]], set[str]] = installed_packages,
) -> None:
    """As root, install the test tools the way Incus is installed (a no-op when present);
    as another user, say once which packages are missing: the browser tests will skip."""
    have = installed(TEST_TOOLS.packages)
    missing = " ".join(p for p in TEST_TOOLS.packages if p not in have)
    if not missing:
        return
    if not is_root():
        say(M(
            "setup.test_tools_not_root",
            "{packages} not installed, and only root can install them: the "
            "tests that need them (browser, CPU pressure) will be skipped. "
            "To run them: sudo apt-get install {packages}",
            packages=missing,
        ))
        return
    say(M("setup.test_tools_installing", "Installing the test tools with apt-get: {packages} (log: {log})",
          packages=missing, log=str(log)))
    install_packages(TEST_TOOLS, log, runner=runner, installed=lambda names: have)
