"""Root writes into folders others may write (an access folder handed out, a shared /tmp): never through
a link planted there.  Each test fails without its guard."""
from __future__ import annotations

from pathlib import Path

from labkit.incus import certs


def test_a_link_planted_at_the_temporary_name_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "etc-shadow"
    target.write_text("root's secret\n")
    folder = tmp_path / "access"
    folder.mkdir()
    (folder / ".config.yml.tmp").symlink_to(target)
    certs.write_private(folder / "config.yml", "remotes: {}\n")
    assert target.read_text() == "root's secret\n"
    assert (folder / "config.yml").read_text() == "remotes: {}\n"
    assert not (folder / "config.yml").is_symlink() and oct((folder / "config.yml").stat().st_mode & 0o777) == "0o600"
