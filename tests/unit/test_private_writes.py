"""Root writes into and reads from folders a learner owns (the hub's access folders): never through a
link or a FIFO the learner planted there.  Each test fails without its guard."""
from __future__ import annotations

import os
import threading
from pathlib import Path

from labkit.hub.accounts import config_current
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


def test_a_fifo_as_config_yml_does_not_hang_the_hub(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yml"
    os.mkfifo(fifo)
    answer: list[bool] = []
    reader = threading.Thread(target=lambda: answer.append(config_current(fifo, "labkit", "127.0.0.1:8443", "p")), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert answer == [False], "config_current blocked on a FIFO"
