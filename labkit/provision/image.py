"""Incus images: the one lookup of which images exist and what a name designates (setup, the local
image's import, doctor, classes), the default image, and the import of the local Debian image's
tarballs under a labkit alias.  The tarballs themselves are built in image_build.py.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SetupError
from ..i18n import M
from .install import Runner, run_logged

if TYPE_CHECKING:  # the HTTP client is loaded by whoever brings a client
    from ..incus.client import IncusClient

# What setup and classes use when no image is named and none was built here.
REMOTE_IMAGE = "images:ubuntu/24.04"
LOCAL_ALIAS_PREFIX = "labkit/"  # the images labkit builds: labkit/debian-<suite>


def local_images(client: IncusClient, project: str | None = None) -> dict[str, str]:
    """Every image of the project (the client's by default) by alias and by fingerprint, each
    mapped to its fingerprint: one request.  The one place labkit asks which images exist
    (setup, the local image's import, doctor, classes), so all agree on projects and names."""
    params: dict[str, Any] = {"recursion": 1} | ({"project": project} if project else {})
    names: dict[str, str] = {}
    for image in client.request("GET", "/1.0/images", params=params) or []:
        names[image["fingerprint"]] = image["fingerprint"]
        names.update({alias["name"]: image["fingerprint"] for alias in image.get("aliases") or []})
    return names


def find_image(images: dict[str, str], name: str) -> str | None:
    """The fingerprint `name` designates among `local_images()`: an alias, a fingerprint, or a
    fingerprint's unique prefix (as `incus launch` takes it); None when it designates none."""
    if name in images:
        return images[name]
    matches = {fingerprint for fingerprint in images.values() if fingerprint.startswith(name)}
    return matches.pop() if len(matches) == 1 else None


def default_image(client: IncusClient, project: str = "default") -> str:
    """A local image labkit built (alias labkit/…), else the image server's."""
    local = sorted(name for name in local_images(client, project) if name.startswith(LOCAL_ALIAS_PREFIX))
    return local[0] if local else REMOTE_IMAGE


def image_fingerprint(metadata_tar: Path, rootfs_tar: Path) -> str:
    """Incus's fingerprint of a split image: SHA-256 of metadata then rootfs."""
    digest = hashlib.sha256()
    for path in (metadata_tar, rootfs_tar):
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def import_image(
    metadata_tar: Path,
    rootfs_tar: Path,
    alias: str,
    log: Path,
    *,
    images: Callable[[], dict[str, str]],
    runner: Runner = run_logged,
    project: str | None = None,
) -> None:
    """Import the tarballs under `alias`; on failure no alias of ours is left behind.

    `images` is `local_images` of the project (asked again after each change).  Already
    imported under that alias: nothing to do.  An alias naming another image is never
    replaced or deleted: it is somebody's.
    """
    fingerprint = image_fingerprint(metadata_tar, rootfs_tar)
    before = images()
    if before.get(alias) == fingerprint:
        return
    if alias in before:
        raise SetupError(M(
            "setup.image_alias_taken",
            "The image alias {alias} already names another image, so labkit will not "
            "replace it. Use that image as it is, or delete the alias with incus image "
            "alias delete {alias} and run the setup again.",
            alias=alias,
        ))
    incus = ["incus", *(["--project", project] if project else []), "image"]
    # Deleting only an alias leaves its image behind, and importing identical
    # tarballs again is refused ("same fingerprint"): reuse the image instead.
    if fingerprint in before:
        argv = [*incus, "alias", "create", alias, fingerprint]
    else:
        argv = [*incus, "import", str(metadata_tar), str(rootfs_tar), "--alias", alias]
    code = runner(argv, log)
    if code == 0:
        return
    after = images()
    if after.get(alias) == fingerprint:
        # Seen here: another setup imported the same tarballs at the same moment, so
        # ours failed with "same fingerprint".  A complete image under the alias is
        # exactly what we wanted; an alias to a missing image is a leftover.
        if fingerprint in after:
            return
        runner([*incus, "alias", "delete", alias], log)
    raise SetupError(M(
        "setup.image_import_failed",
        "Importing the local image as {alias} failed (exit code {code}). The log is in "
        "{log}; read its end, check that the Incus daemon runs and has free disk space, "
        "then run the setup again.",
        alias=alias, code=code, log=str(log),
    ))
