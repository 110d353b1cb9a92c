from __future__ import annotations

import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from labkit.errors import SetupError
from labkit.image import (
    build_debian_image,
    image_metadata,
    import_image,
    incus_architecture,
    metadata_yaml,
)

MIRROR = "http://mirror.example.invalid/debian"


def test_metadata_content() -> None:
    meta = image_metadata("amd64", "bookworm", 1700000000)
    assert meta["architecture"] == "x86_64"
    assert meta["creation_date"] == 1700000000
    props = meta["properties"]
    assert props["os"] == "Debian"
    assert props["release"] == "bookworm"
    assert props["variant"] == "minbase"
    assert "bookworm" in props["description"]
    # Each container gets its own hostname, not the build machine's.
    assert meta["templates"]["/etc/hostname"]["template"] == "hostname.tpl"


@pytest.mark.parametrize("dpkg, incus", [("amd64", "x86_64"), ("arm64", "aarch64")])
def test_architecture_names(dpkg: str, incus: str) -> None:
    assert incus_architecture(dpkg) == incus
    assert image_metadata(dpkg, "trixie", 0)["architecture"] == incus


def test_unknown_architecture_is_a_setup_error() -> None:
    with pytest.raises(SetupError):
        incus_architecture("pdp11")


def test_metadata_yaml_is_yaml() -> None:
    yaml = pytest.importorskip("yaml")
    meta = image_metadata("arm64", "bookworm", 42)
    assert yaml.safe_load(metadata_yaml(meta)) == meta


class FakeRunner:
    """Stands in for debootstrap and tar; records every command."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None) -> int:
        self.calls.append(list(argv))
        if argv[0] == self.fail:
            return 1
        if argv[0] == "debootstrap":
            etc = Path(argv[-2]) / "etc"
            etc.mkdir(parents=True)
            (etc / "hostname").write_text("buildhost\n")
            (etc / "machine-id").write_text("0123456789abcdef\n")
        elif argv[0] == "tar":
            Path(argv[argv.index("-czf") + 1]).write_bytes(b"fake rootfs")
        return 0


def test_cache_hit_runs_nothing(tmp_path: Path) -> None:
    (tmp_path / "metadata.tar").write_bytes(b"m")
    (tmp_path / "rootfs.tar.gz").write_bytes(b"r")
    runner = FakeRunner()
    got = build_debian_image(MIRROR, "bookworm", tmp_path, tmp_path / "log", arch="amd64", runner=runner)
    assert got == (tmp_path / "metadata.tar", tmp_path / "rootfs.tar.gz")
    assert runner.calls == []


def test_cache_miss_builds_and_leaves_only_the_tarballs(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / ".build-killed").mkdir(parents=True)  # left by an interrupted build
    (cache / "rootfs.tar.gz").write_bytes(b"half")  # rootfs without metadata: not a cache
    runner = FakeRunner()
    meta, rootfs = build_debian_image(MIRROR, "bookworm", cache, tmp_path / "log", arch="arm64", runner=runner, now=lambda: 1234.5)
    debootstrap = runner.calls[0]
    assert debootstrap[:3] == ["debootstrap", "--variant=minbase", "--include=systemd-sysv"]
    assert debootstrap[3] == "bookworm" and debootstrap[-1] == MIRROR
    assert Path(debootstrap[4]).parent.parent == cache  # chroot inside the cache dir
    assert "--numeric-owner" in runner.calls[1]
    assert rootfs.read_bytes() == b"fake rootfs"
    with tarfile.open(meta) as tar:
        text = tar.extractfile("metadata.yaml").read().decode()  # type: ignore[union-attr]
        assert "templates/hostname.tpl" in tar.getnames()
    assert '"architecture": "aarch64"' in text and '"creation_date": 1234' in text
    assert sorted(p.name for p in cache.iterdir() if p.name != ".lock") == ["metadata.tar", "rootfs.tar.gz"]
    # Second run: instant, nothing executed.
    again = FakeRunner()
    assert build_debian_image(MIRROR, "bookworm", cache, tmp_path / "log", arch="arm64", runner=again) == (meta, rootfs)
    assert again.calls == []


@pytest.mark.parametrize("failing", ["debootstrap", "tar"])
def test_failed_build_leaves_nothing_that_looks_cached(tmp_path: Path, failing: str) -> None:
    cache = tmp_path / "cache"
    log = tmp_path / "log"
    cache.mkdir()
    (cache / "rootfs.tar.gz").write_bytes(b"left by an interrupted build")
    with pytest.raises(SetupError) as caught:
        build_debian_image(MIRROR, "bookworm", cache, log, arch="amd64", runner=FakeRunner(fail=failing))
    assert str(log) in str(caught.value) and failing in str(caught.value)
    assert [p.name for p in cache.iterdir() if p.name != ".lock"] == []


def test_failed_import_removes_the_alias(tmp_path: Path) -> None:
    meta, rootfs = tmp_path / "metadata.tar", tmp_path / "rootfs.tar.gz"
    meta.write_bytes(b"m")
    rootfs.write_bytes(b"r")
    aliases: set[str] = set()
    calls: list[list[str]] = []

    def runner(argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None) -> int:
        calls.append(list(argv))
        if argv[:3] == ["incus", "image", "import"]:
            aliases.add(argv[-1])  # the alias got created, then the import failed
            return 1
        if argv[:4] == ["incus", "image", "alias", "delete"]:
            aliases.discard(argv[4])
            return 0
        return 1  # `incus image info FINGERPRINT`: no such image yet

    with pytest.raises(SetupError) as caught:
        import_image(meta, rootfs, "labkit/test", tmp_path / "log", runner=runner, alias_exists=lambda a: a in aliases)
    assert caught.value.message.key == "setup.image_import_failed"
    assert aliases == set()
    assert ["incus", "image", "import", str(meta), str(rootfs), "--alias", "labkit/test"] in calls


def test_import_refuses_to_replace_an_existing_alias(tmp_path: Path) -> None:
    calls: list[Sequence[str]] = []
    with pytest.raises(SetupError) as caught:
        import_image(tmp_path / "m", tmp_path / "r", "labkit/x", tmp_path / "log",
                     runner=lambda argv, log, env=None: calls.append(argv) or 0, alias_exists=lambda a: True)
    assert caught.value.message.key == "setup.image_alias_taken"
    assert calls == []
