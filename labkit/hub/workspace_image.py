"""The image of the learners' workspaces: where each learner's JupyterLab and terminals run.

Debian's minbase of the host's own release (so the hub runtime, a virtual environment made
from the host's /usr/bin/python3, runs inside it from a read-only mount), plus Python, the
locales of both class languages, Debian's `incus-client` (from backports on bookworm, as
setup installs Incus) and one unprivileged account, `learner`.  What it costs the first time:
about three minutes on two cores (debootstrap, then apt in the chroot, then the tarball).  Built with debootstrap from
the mirror the machine's apt sources use, cached like the lab's image, and imported under an
alias that names a digest of the recipe: a changed recipe is a new image, an unchanged one
is never rebuilt.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

from ..errors import SetupError
from ..i18n import M, Message
from ..incus.client import IncusClient
from ..provision.aptsources import find_debian_mirror, own_codename
from ..provision.image import import_image, local_images
from ..provision.image_build import CACHE_ROOT, Recipe, build_debian_image, host_arch
from ..provision.install import run_logged

ALIAS_PREFIX = "labkit-workspace/"  # apart from labkit/…, the lab images `default_image` picks from
LEARNER = "learner"
LEARNER_UID = 1000
HOME = f"/home/{LEARNER}"
LOCALES = ("en_US.UTF-8", "fr_FR.UTF-8")
PACKAGES = ("systemd-sysv", "python3", "locales", "ca-certificates", "procps", "less")
CLIENT = "incus-client"  # installed in the chroot with apt: on bookworm it is only in backports
RUNTIME_MOUNT = "/opt/labkit/hub-runtime"  # where the host's runtime is attached, read-only
PROFILE = f"""\
# labkit: the class's tools (JupyterLab, labkit) come from the hub runtime, attached read-only.
case ":$PATH:" in *":{RUNTIME_MOUNT}/bin:"*) ;; *) PATH="$PATH:{RUNTIME_MOUNT}/bin" ;; esac
export PATH
"""
RECIPE_VERSION = "2"  # bump when finish() changes what the image holds


def recipe_digest(suite: str, arch: str) -> str:
    text = "\n".join([RECIPE_VERSION, suite, arch, *PACKAGES, CLIENT, *LOCALES, LEARNER, str(LEARNER_UID), PROFILE])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def alias_for(suite: str, arch: str) -> str:
    return f"{ALIAS_PREFIX}{suite}-{recipe_digest(suite, arch)}"


def recipe(suite: str, mirror: str) -> Recipe:
    return Recipe(include=PACKAGES, variant="workspace", finish=lambda chroot, log: _finish(chroot, log, suite, mirror))


def _finish(chroot: Path, log: Path, suite: str, mirror: str) -> None:
    """Inside the chroot: Debian's incus client (from backports on bookworm, as setup installs Incus;
    debootstrap's --extra-suites mixed systemd versions here), both locales, the learner's account,
    the runtime on PATH, no apt lists."""
    apt = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
    if suite == "bookworm":
        (chroot / "etc" / "apt" / "sources.list.d" / "labkit-backports.list").write_text(
            f"deb {mirror} {suite}-backports main\n")
        apt += ["-t", f"{suite}-backports"]
    (chroot / "etc" / "locale.gen").write_text("".join(f"{name} UTF-8\n" for name in LOCALES))
    run_logged(["mount", "-t", "proc", "proc", str(chroot / "proc")], log)  # dpkg's scripts look there
    try:
        for argv in (["apt-get", "update", "-qq"], [*apt, CLIENT], ["locale-gen"],
                     ["useradd", "--create-home", "--uid", str(LEARNER_UID), "--user-group", "--shell", "/bin/bash",
                      LEARNER]):
            if run_logged(["chroot", str(chroot), *argv], log,
                          env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}) != 0:
                raise SetupError(M("hub.workspace.image_step", "Building the workspace image failed at “{command}”. "
                                                               "Read the end of {log}; often the Debian mirror cannot "
                                                               "be reached.",
                                   command=" ".join(argv[:4]), log=str(log)))
    finally:
        run_logged(["umount", "--lazy", str(chroot / "proc")], log)
    (chroot / "etc" / "profile.d" / "labkit.sh").write_text(PROFILE)
    for listing in (chroot / "var" / "lib" / "apt" / "lists").glob("*_*"):
        listing.unlink()


def ensure_workspace_image(client: IncusClient, log: Path, say: Callable[[Message], None]) -> str:
    """The workspace image's alias in the default project, built and imported once."""
    suite, arch = own_codename(), host_arch()
    alias = alias_for(suite, arch)
    if alias in local_images(client, "default"):
        return alias
    say(M("hub.workspace.building_image", "Building the learners' workspace image {alias} with debootstrap "
                                          "(once; about three minutes)…", alias=alias))
    mirror = find_debian_mirror()
    meta, rootfs = build_debian_image(mirror, suite,
                                      CACHE_ROOT / f"workspace-{suite}-{arch}-{recipe_digest(suite, arch)}",
                                      log, arch=arch, recipe=recipe(suite, mirror))
    import_image(meta, rootfs, alias, log, images=lambda: local_images(client, "default"), project="default")
    return alias


def unused_workspace_images(client: IncusClient, keep: str | None = None) -> list[str]:
    """Fingerprints of workspace images no instance uses any more (for `class destroy`)."""
    used = {(i.get("config") or {}).get("volatile.base_image")
            for i in client.request("GET", "/1.0/instances", params={"recursion": 1, "all-projects": "true"},
                                    project=False) or []}
    found = []
    for image in client.request("GET", "/1.0/images", params={"recursion": 1, "project": "default"},
                                project=False) or []:
        names = [a["name"] for a in image.get("aliases") or []]
        if any(n.startswith(ALIAS_PREFIX) for n in names) and image["fingerprint"] not in used and keep not in names:
            found.append(image["fingerprint"])
    return found
