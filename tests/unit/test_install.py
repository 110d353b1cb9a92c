from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from labkit.errors import SetupError
from labkit.provision.install import (
    Distro,
    InstallPlan,
    PackageGroup,
    detect_distro,
    ensure_test_tools,
    incus_install_plan,
    install_packages,
)


def test_detect_distro_reads_os_release(tmp_path: Path) -> None:
    path = tmp_path / "os-release"
    path.write_text('PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\n'
                    'VERSION_ID="24.04"\nVERSION_CODENAME=noble\n')
    assert detect_distro(path) == Distro("ubuntu", "24.04", "noble", ("debian",))


def test_detect_distro_without_file(tmp_path: Path) -> None:
    with pytest.raises(SetupError) as caught:
        detect_distro(tmp_path / "missing")
    assert caught.value.message.key == "setup.os_release_unreadable"


def test_debian_12_takes_incus_from_backports() -> None:
    plan = incus_install_plan(Distro("debian", "12", "bookworm"))
    assert plan.backports == "bookworm"
    incus = next(g for g in plan.groups if "incus" in g.packages)
    assert incus.target_release == "bookworm-backports"
    # Only Incus comes from backports; the tools come from the release itself.
    assert all(g.target_release is None for g in plan.groups if g is not incus)
    assert set(plan.packages) == {"incus", "debootstrap", "btrfs-progs"}


@pytest.mark.parametrize(
    "distro",
    [
        Distro("debian", "13", "trixie"),
        Distro("debian", "", "forky"),  # testing has no VERSION_ID
        Distro("ubuntu", "24.04", "noble", ("debian",)),
        Distro("ubuntu", "25.10", "questing", ("debian",)),
    ],
)
def test_newer_releases_use_their_own_archive(distro: Distro) -> None:
    plan = incus_install_plan(distro)
    assert plan.backports is None
    assert all(g.target_release is None for g in plan.groups)
    assert set(plan.packages) == {"incus", "debootstrap", "btrfs-progs"}


def test_btrfs_progs_is_optional_and_the_rest_is_not() -> None:
    for distro in (Distro("debian", "12", "bookworm"), Distro("ubuntu", "24.04", "noble")):
        groups = {p: g.optional for g in incus_install_plan(distro).groups for p in g.packages}
        assert groups == {"incus": False, "debootstrap": False, "btrfs-progs": True}


@pytest.mark.parametrize(
    "distro",
    [
        Distro("debian", "11", "bullseye"),
        Distro("ubuntu", "22.04", "jammy", ("debian",)),
        Distro("linuxmint", "22", "wilma", ("ubuntu", "debian")),
        Distro("fedora", "41", ""),
    ],
)
def test_unsupported_distro_says_how_to_install_by_hand(distro: Distro) -> None:
    with pytest.raises(SetupError) as caught:
        incus_install_plan(distro)
    assert caught.value.message.key == "setup.unsupported_distro"
    text = str(caught.value)
    assert distro.id in text and "by hand" in text


class FakeApt:
    def __init__(self, fail: Sequence[str] = ()) -> None:
        self.calls: list[list[str]] = []
        self.fail = set(fail)

    def __call__(self, argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None) -> int:
        assert env is not None and env["DEBIAN_FRONTEND"] == "noninteractive"
        self.calls.append(list(argv))
        return 100 if self.fail & set(argv) else 0


PLAN = InstallPlan((PackageGroup(("debootstrap",)), PackageGroup(("btrfs-progs",), optional=True)))


def test_nothing_missing_means_no_apt_get_at_all(tmp_path: Path) -> None:
    apt = FakeApt()
    install_packages(PLAN, tmp_path / "log", runner=apt, installed=lambda names: set(names))
    assert apt.calls == []


def test_only_missing_packages_are_installed_and_optional_failure_is_tolerated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("labkit.provision.install.is_root", lambda: True)  # apt-get is a fake: runs for any user
    apt = FakeApt(fail=["btrfs-progs"])
    install_packages(PLAN, tmp_path / "log", runner=apt, installed=lambda names: set())
    assert apt.calls[0][-1] == "update"
    assert [c[-1] for c in apt.calls[1:]] == ["debootstrap", "btrfs-progs"]
    assert all("--no-install-recommends" in c and "-y" in c for c in apt.calls[1:])
    assert "btrfs-progs" in (tmp_path / "log").read_text()

    apt = FakeApt(fail=["debootstrap"])
    with pytest.raises(SetupError) as caught:
        install_packages(PLAN, tmp_path / "log", runner=apt, installed=lambda names: {"btrfs-progs"})
    assert str(tmp_path / "log") in str(caught.value)
    assert [c[-1] for c in apt.calls] == ["update", "debootstrap"]


def test_test_tools_are_installed_as_root_like_incus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("labkit.provision.install.is_root", lambda: True)
    apt, said = FakeApt(), []
    ensure_test_tools(tmp_path / "log", said.append, runner=apt, installed=lambda names: {"fonts-dejavu-core"})
    assert apt.calls[0][-1] == "update"
    assert apt.calls[1][-3:] == ["--no-install-recommends", "chromium", "stress-ng"] and "-y" in apt.calls[1]
    assert len(said) == 1 and "chromium" in said[0].render("en") and "fonts" not in said[0].render("fr")

    apt, said = FakeApt(), []
    ensure_test_tools(tmp_path / "log", said.append, runner=apt, installed=lambda names: set(names))
    assert apt.calls == [] and said == []  # a second run does nothing, not even apt-get update


def test_test_tools_as_another_user_name_the_packages_and_install_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("labkit.provision.install.is_root", lambda: False)
    apt, said = FakeApt(), []
    ensure_test_tools(tmp_path / "log", said.append, runner=apt, installed=lambda names: set())
    assert apt.calls == []
    assert len(said) == 1
    for lang in ("en", "fr"):
        assert "apt-get install chromium fonts-dejavu-core stress-ng" in said[0].render(lang)
