"""The snapshot-server chapter against cheap fakes, on the real main daemon and a real snapshot server.

Same set-up as test_snapshot_server_chapter.py (its fixtures: a snapshot server in its own INCUS_DIR,
a learner with a primary instance, a fresh client folder and an event listener).  The learner
uses only what they own: their client, their certificate on the snapshot server, their files.
No copy is transferred, so the module is quick.
"""
from __future__ import annotations

import json
import os
import threading

import pytest

from .test_snapshot_server_chapter import Learner, learner, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def test_written_volatile_keys_fake_neither_the_copy_nor_the_refresh(learner: Learner) -> None:  # noqa: F811
    learner.incus("incus remote add {remote} {address} --token {token} --accept-certificate")
    learner.incus("incus snapshot create {container} {snapshot}")
    primary = json.loads(learner.incus("incus query /1.0/instances/{container}").stdout)["config"]
    # No copy: an empty instance, and the keys a copy would have, written by the learner's client.
    learner.incus("incus create --empty {remote}:{container}")
    written = learner.incus(f"incus config set {{remote}}:{{container}} "
                            f"volatile.base_image={primary['volatile.base_image']} "
                            "volatile.apply_template=copy")
    assert written.returncode == 0  # Incus accepts known volatile keys from a trusted client
    faked = learner.grade()["copy"]
    assert faked.status.value == "not_verified" and faked.points == 0  # no proof either way: no points

    # No refresh: a newer snapshot on the primary, one of the same name taken on the "copy",
    # the primary's volatile.uuid written on it.
    learner.incus("incus snapshot create {container} r2-newer")
    learner.incus("incus snapshot create {remote}:{container} r2-newer")
    learner.incus(f"incus config set {{remote}}:{{container}} "
                  f"volatile.uuid={primary['volatile.uuid']} boot.autostart=false")
    result = learner.grade()["refresh"]
    assert result.diagnosis == "snapshot_made_on_copy", result


def test_a_fifo_for_config_yml_neither_blocks_nor_passes_the_remote(learner: Learner) -> None:  # noqa: F811
    learner.incus("incus remote add {remote} {address} --token {token} --accept-certificate")
    assert learner.grade()["remote"].passed
    config = learner.conf / "config.yml"
    kept = config.read_bytes()
    config.unlink()
    os.mkfifo(config)
    try:
        graded: list = []
        worker = threading.Thread(target=lambda: graded.append(learner.grade()), daemon=True)
        worker.start()
        worker.join(60)
        assert graded, "the check blocked on a FIFO"
        assert graded[0]["remote"].diagnosis == "client_config_unreadable"
    finally:
        config.unlink()
        config.write_bytes(kept)
