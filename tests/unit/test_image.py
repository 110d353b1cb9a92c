from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from labkit.errors import SetupError
from labkit.provision.image import find_image, image_fingerprint, import_image
from labkit.provision.image_build import build_debian_image, image_metadata, incus_architecture, metadata_yaml

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
    import yaml  # PyYAML is a runtime requirement: no skip

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
            archives = Path(argv[-2]) / "var/cache/apt/archives"
            archives.mkdir(parents=True)
            (archives / "systemd_252_amd64.deb").write_bytes(b"deb")
        elif argv[0] == "tar":
            root = Path(argv[argv.index("-C") + 1])
            self.tarred = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
            self.machine_id = (root / "etc/machine-id").read_text()
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
    meta, rootfs = build_debian_image(MIRROR, "bookworm", cache, tmp_path / "log", arch="arm64", runner=runner,
                                      now=lambda: 1234.5)
    debootstrap = runner.calls[0]
    assert debootstrap[:3] == ["debootstrap", "--variant=minbase", "--include=systemd-sysv"]
    assert debootstrap[3] == "bookworm" and debootstrap[-1] == MIRROR
    assert Path(debootstrap[4]).parent.parent == cache  # chroot inside the cache dir
    assert "--numeric-owner" in runner.calls[1]
    # The build host's hostname, machine-id and downloaded packages stay out of the image.
    assert runner.tarred == ["etc/machine-id"] and runner.machine_id == ""
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


class FakeIncus:
    """Stands in for the incus CLI: aliases, images, and an import that can fail."""

    def __init__(self, import_code: int = 0, import_leaves_image: bool = False) -> None:
        self.aliases: dict[str, str] = {}
        self.images: set[str] = set()
        self.calls: list[list[str]] = []
        self.import_code = import_code
        self.import_leaves_image = import_leaves_image

    def names(self) -> dict[str, str]:
        """What `local_images` answers: every image by fingerprint and by alias."""
        return {**{f: f for f in self.images}, **self.aliases}

    def __call__(self, argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None) -> int:
        self.calls.append(list(argv))
        verb = argv[2:4] if argv[2] == "alias" else argv[2:3]
        if verb == ["info"]:
            return 0 if argv[3] in self.images else 1
        if verb == ["import"]:
            fingerprint = image_fingerprint(Path(argv[3]), Path(argv[4]))
            self.aliases[argv[-1]] = fingerprint  # the alias got made, then something failed
            if self.import_code == 0 or self.import_leaves_image:
                self.images.add(fingerprint)
            return self.import_code
        if verb == ["alias", "create"]:
            self.aliases[argv[4]] = argv[5]
            return 0
        if verb == ["alias", "delete"]:
            return 0 if self.aliases.pop(argv[4], None) else 1
        raise AssertionError(argv)


@pytest.fixture
def tarballs(tmp_path: Path) -> tuple[Path, Path]:
    meta, rootfs = tmp_path / "metadata.tar", tmp_path / "rootfs.tar.gz"
    meta.write_bytes(b"m")
    rootfs.write_bytes(b"r")
    return meta, rootfs


def test_import_under_a_new_alias(tmp_path: Path, tarballs: tuple[Path, Path]) -> None:
    incus = FakeIncus()
    import_image(*tarballs, "labkit/test", tmp_path / "log", runner=incus, images=incus.names)
    assert ["incus", "image", "import", *map(str, tarballs), "--alias", "labkit/test"] in incus.calls
    assert incus.aliases == {"labkit/test": image_fingerprint(*tarballs)}
    # Again: already there, nothing runs.
    incus.calls.clear()
    import_image(*tarballs, "labkit/test", tmp_path / "log", runner=incus, images=incus.names)
    assert incus.calls == []


def test_failed_import_removes_the_alias(tmp_path: Path, tarballs: tuple[Path, Path]) -> None:
    incus = FakeIncus(import_code=1)
    with pytest.raises(SetupError) as caught:
        import_image(*tarballs, "labkit/test", tmp_path / "log", runner=incus, images=incus.names)
    assert caught.value.message.key == "setup.image_import_failed"
    assert str(tmp_path / "log") in str(caught.value)
    assert incus.aliases == {}


def test_concurrent_identical_import_counts_as_success(tmp_path: Path, tarballs: tuple[Path, Path]) -> None:
    # Another setup imported the same tarballs at the same moment: ours failed with
    # "same fingerprint", but the alias names a complete image, which is the goal.
    incus = FakeIncus(import_code=1, import_leaves_image=True)
    import_image(*tarballs, "labkit/test", tmp_path / "log", runner=incus, images=incus.names)
    assert incus.aliases == {"labkit/test": image_fingerprint(*tarballs)}


def test_image_kept_after_alias_deletion_is_reused(tmp_path: Path, tarballs: tuple[Path, Path]) -> None:
    incus = FakeIncus(import_code=1)  # a re-import would be refused
    incus.images.add(image_fingerprint(*tarballs))
    import_image(*tarballs, "labkit/test", tmp_path / "log", runner=incus, images=incus.names)
    assert incus.aliases == {"labkit/test": image_fingerprint(*tarballs)}
    assert not any(c[2] == "import" for c in incus.calls)


def test_import_never_touches_an_alias_naming_another_image(tmp_path: Path, tarballs: tuple[Path, Path]) -> None:
    incus = FakeIncus()
    incus.aliases["labkit/test"] = "f" * 64
    with pytest.raises(SetupError) as caught:
        import_image(*tarballs, "labkit/test", tmp_path / "log", runner=incus, images=incus.names)
    assert caught.value.message.key == "setup.image_alias_taken"
    assert incus.calls == [] and incus.aliases == {"labkit/test": "f" * 64}


def test_fingerprint_is_sha256_of_metadata_then_rootfs(tarballs: tuple[Path, Path]) -> None:
    assert image_fingerprint(*tarballs) == hashlib.sha256(b"mr").hexdigest()


def test_an_image_is_found_by_alias_fingerprint_or_unique_prefix_only() -> None:
    a, b = "ab12" + "0" * 60, "ab34" + "1" * 60
    images = {a: a, b: b, "labkit/debian-bookworm": a}
    assert find_image(images, "labkit/debian-bookworm") == find_image(images, a) == find_image(images, "ab12") == a
    assert find_image(images, "ab") is None  # two images start so: as ambiguous as `incus launch ab` says
    assert find_image(images, "labkit/debian-trixie") is None
