"""The local image's import on a real daemon, looked up the one way setup and classes look (image.py).

Tiny tarballs (a metadata.yaml and one file) stand in for the debootstrap build: Incus imports
them like any split image, in a second.  The alias is unique and the image deleted afterwards.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Iterator

import pytest

from labkit.errors import SetupError
from labkit.incus.client import IncusClient, find_endpoint
from labkit.provision.image import find_image, image_fingerprint, import_image, local_images
from labkit.provision.image_build import host_arch, incus_architecture

from .conftest import incus, unique


def _tar(path: Path, files: dict[str, str], gzip: bool) -> Path:
    with tarfile.open(path, "w:gz" if gzip else "w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1700000000
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def tarballs(tmp_path: Path, image: str) -> Iterator[tuple[Path, Path]]:  # `image`: a daemon answers
    yaml = (f"architecture: {incus_architecture(host_arch())}\ncreation_date: 1700000000\n"
            f"properties:\n  description: labkit test {tmp_path.name}\n")
    meta = _tar(tmp_path / "metadata.tar", {"metadata.yaml": yaml}, False)
    rootfs = _tar(tmp_path / "rootfs.tar.gz", {"etc/hostname": f"{tmp_path.name}\n"}, True)
    try:
        yield meta, rootfs
    finally:
        incus("image", "delete", image_fingerprint(meta, rootfs), check=False)


def test_import_then_again_is_a_no_op_and_the_lookup_sees_it(tarballs: tuple[Path, Path], tmp_path: Path) -> None:
    alias, log = f"{unique('lk-folds')}/image", tmp_path / "log"
    fingerprint = image_fingerprint(*tarballs)
    with IncusClient(find_endpoint("default")) as client:
        assert alias not in local_images(client)
        import_image(*tarballs, alias, log, images=lambda: local_images(client), project=client.project)
        images = local_images(client)
        assert images[alias] == fingerprint and find_image(images, fingerprint[:16]) == fingerprint
        # Incus's own view agrees: this alias, this fingerprint (ours: SHA-256 of metadata then rootfs).
        assert json.loads(incus("query", f"/1.0/images/aliases/{alias}").stdout)["target"] == fingerprint
        commands: list[list[str]] = []
        import_image(*tarballs, alias, log, images=lambda: local_images(client), project=client.project,
                     runner=lambda argv, log, **kw: commands.append(list(argv)) or 0)
        assert commands == []  # already there: nothing runs

        # The alias deleted, the image kept: setup reuses the image (a re-import would be refused).
        incus("image", "alias", "delete", alias)
        import_image(*tarballs, alias, log, images=lambda: local_images(client), project=client.project)
        assert local_images(client)[alias] == fingerprint


def test_an_alias_naming_another_image_is_never_replaced(tarballs: tuple[Path, Path], tmp_path: Path,
                                                         image: str) -> None:
    if ":" in image:
        pytest.skip(f"the lab image {image} is on an image server, not on this one")
    alias = f"{unique('lk-folds')}/taken"
    other = json.loads(incus("query", f"/1.0/images/aliases/{image}").stdout)["target"]
    incus("image", "alias", "create", alias, other)
    try:
        with IncusClient(find_endpoint("default")) as client, pytest.raises(SetupError) as caught:
            import_image(*tarballs, alias, tmp_path / "log", images=lambda: local_images(client), project="default")
        assert caught.value.message.key == "setup.image_alias_taken"
        assert json.loads(incus("query", f"/1.0/images/aliases/{alias}").stdout)["target"] == other
    finally:
        incus("image", "alias", "delete", alias, check=False)
