from __future__ import annotations

from pathlib import Path

import pytest

from labkit.errors import SetupError
from labkit.provision.aptsources import (
    BACKPORTS_FILE,
    backports_stanza,
    ensure_backports,
    find_debian_mirror,
    parse_deb822,
    parse_one_line,
)

MIRROR = "http://mirror.example.invalid/debian"
OTHER = "https://other.example.invalid/debian"
SECURITY = "http://security.example.invalid/debian-security"

DEB822 = f"""\
# Main archive, two URIs
Types: deb deb-src
URIs: {MIRROR}
# a comment inside the stanza ends neither the stanza nor the field
# URIs: http://commented.example.invalid/debian
 {OTHER}
Suites: bookworm bookworm-updates
Components: main contrib
  non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {SECURITY}
Suites: bookworm-security
Components: main

Types: deb
URIs: http://off.example.invalid/debian
Suites: bookworm
Components: main
Enabled: no
"""


def write(apt: Path, name: str, text: str) -> Path:
    path = apt / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_deb822_stanzas_continuations_and_comments() -> None:
    first, security, disabled = parse_deb822(DEB822, origin="x.sources")
    assert first.types == ("deb", "deb-src")
    assert first.uris == (MIRROR, OTHER)
    assert first.suites == ("bookworm", "bookworm-updates")
    assert first.components == ("main", "contrib", "non-free-firmware")
    assert first.enabled and first.origin == "x.sources"
    assert security.suites == ("bookworm-security",)
    assert disabled.enabled is False


def test_deb822_field_names_are_case_insensitive() -> None:
    (source,) = parse_deb822(f"types: deb\nuris: {MIRROR}\nsuites: trixie\ncomponents: main\nenabled: No\n")
    assert source.uris == (MIRROR,) and source.suites == ("trixie",)
    assert source.enabled is False


def test_one_line_format_with_options_and_comments() -> None:
    text = f"""\
# deb {OTHER} bookworm main
deb-src {OTHER} bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {MIRROR} bookworm main contrib # trailing
deb [ arch=amd64 ]\t{SECURITY} bookworm-security main
"""
    src, main, security = parse_one_line(text)
    assert src.types == ("deb-src",)
    assert main.types == ("deb",)
    assert main.uris == (MIRROR,)
    assert main.suites == ("bookworm",)
    assert main.components == ("main", "contrib")
    assert security.uris == (SECURITY,) and security.suites == ("bookworm-security",)


def test_mirror_from_deb822_skips_security_and_disabled(tmp_path: Path) -> None:
    write(tmp_path, "sources.list.d/debian.sources", DEB822)
    assert find_debian_mirror(tmp_path, "bookworm") == MIRROR


def test_mirror_needs_the_bare_codename_and_main(tmp_path: Path) -> None:
    write(tmp_path, "sources.list.d/a.sources",
          f"Types: deb\nURIs: {OTHER}\nSuites: bookworm-updates\nComponents: main\n")
    write(tmp_path, "sources.list.d/b.sources", f"Types: deb\nURIs: {OTHER}\nSuites: bookworm\nComponents: contrib\n")
    write(tmp_path, "sources.list.d/c.list", f"deb-src {OTHER} bookworm main\ndeb {MIRROR}/ bookworm main\n")
    assert find_debian_mirror(tmp_path, "bookworm") == MIRROR  # trailing slash dropped


def test_security_archive_is_never_the_mirror(tmp_path: Path) -> None:
    # Even if someone lists the security archive under the bare codename.
    write(tmp_path, "sources.list", f"deb {SECURITY} bookworm main\ndeb {SECURITY} bookworm-security main\n")
    with pytest.raises(SetupError) as caught:
        find_debian_mirror(tmp_path, "bookworm")
    assert caught.value.message.key == "setup.no_debian_source"
    assert str(tmp_path / "sources.list") in str(caught.value)


def test_sources_list_is_read_before_sources_list_d(tmp_path: Path) -> None:
    write(tmp_path, "sources.list", f"deb [signed-by=/k.gpg] {MIRROR} bookworm main\n")
    write(tmp_path, "sources.list.d/debian.sources", f"Types: deb\nURIs: {OTHER}\nSuites: bookworm\nComponents: main\n")
    assert find_debian_mirror(tmp_path, "bookworm") == MIRROR


def test_files_with_other_suffixes_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "sources.list.d/debian.sources.disabled-by-farm",
          f"Types: deb\nURIs: {OTHER}\nSuites: bookworm\nComponents: main\n")
    write(tmp_path, "sources.list.d/old.list.disabled-by-farm", f"deb {OTHER} bookworm main\n")
    write(tmp_path, "sources.list.d/debian.sources", DEB822)
    assert find_debian_mirror(tmp_path, "bookworm") == MIRROR
    (tmp_path / "sources.list.d/debian.sources").unlink()
    with pytest.raises(SetupError) as caught:
        find_debian_mirror(tmp_path, "bookworm")
    assert caught.value.message.key == "setup.no_apt_sources"


def test_other_codename_is_not_picked(tmp_path: Path) -> None:
    write(tmp_path, "sources.list.d/debian.sources", DEB822)
    with pytest.raises(SetupError) as caught:
        find_debian_mirror(tmp_path, "trixie")
    message = str(caught.value)
    assert "trixie" in message and "debian.sources" in message


def test_backports_stanza_is_deb822_for_the_same_mirror() -> None:
    (source,) = parse_deb822(backports_stanza(MIRROR, "bookworm"))
    assert source.types == ("deb",)
    assert source.uris == (MIRROR,)
    assert source.suites == ("bookworm-backports",)
    assert source.components == ("main",)
    assert "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" in backports_stanza(MIRROR, "bookworm")


def test_ensure_backports_is_idempotent(tmp_path: Path) -> None:
    write(tmp_path, "sources.list.d/debian.sources", DEB822)
    target = tmp_path / "sources.list.d" / BACKPORTS_FILE
    assert ensure_backports(tmp_path, MIRROR, "bookworm") is True
    assert target.read_text() == backports_stanza(MIRROR, "bookworm")
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    mtime = target.stat().st_mtime_ns
    assert ensure_backports(tmp_path, MIRROR, "bookworm") is False
    assert target.stat().st_mtime_ns == mtime
    # No temporary file is left beside it.
    assert sorted(p.name for p in target.parent.iterdir()) == ["debian.sources", BACKPORTS_FILE]
    # A different mirror rewrites it.
    assert ensure_backports(tmp_path, OTHER, "bookworm") is True
    assert f"URIs: {OTHER}\n" in target.read_text()


def test_ensure_backports_creates_the_directory(tmp_path: Path) -> None:
    assert ensure_backports(tmp_path, MIRROR, "bookworm") is True
    assert (tmp_path / "sources.list.d" / BACKPORTS_FILE).is_file()


def test_ensure_backports_leaves_an_existing_backports_source_alone(tmp_path: Path) -> None:
    write(tmp_path, "sources.list", f"deb {MIRROR} bookworm-backports main\n")
    assert ensure_backports(tmp_path, MIRROR, "bookworm") is False
    assert not (tmp_path / "sources.list.d" / BACKPORTS_FILE).exists()
