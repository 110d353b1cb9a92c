"""The touch step on a real daemon, where whole seconds cannot decide: a file and a snapshot made
in the same second (both orders), the same tie on a stopped instance, and a file time set in the
future by hand. The files API gives file times to the second; a snapshot's created_at has
nanoseconds; in a tie labkit reads the file's time inside the instance, or says it cannot.
"""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from labkit.incus.client import SYSTEM_SOCKET, Endpoint, IncusClient
from labkit.incus.timestamps import parse_incus_time

from .conftest import check_json, incus

FILE = "/root/this_file.txt"
SNAP = "ubuntu-test-1"
TRIES = 12


def touch_result(name: str, journal: Path) -> dict:
    _, data = check_json(name, journal, "en", "touch")
    return data["steps"][0]


def times(name: str) -> tuple[datetime, datetime]:
    """(file mtime to the second, snapshot created_at), as the API gives them."""
    with IncusClient(Endpoint(SYSTEM_SOCKET, "default")) as client:
        info = client.file_info(name, FILE)
        snap = next(s for s in client.snapshots(name) if s["name"] == SNAP)
    assert info is not None and info.modified is not None
    return info.modified, parse_incus_time(snap["created_at"])


def in_one_second(name: str, file_first: bool) -> None:
    """Make the file and the snapshot within one second, in the given order (retried until they
    share a second: two commands of ~0.1 s each usually do)."""
    actions = [("exec", name, "--", "touch", FILE), ("snapshot", "create", name, SNAP)]
    for _ in range(TRIES):
        for action in actions if file_first else reversed(actions):
            incus(*action)
        modified, created = times(name)
        if int(modified.timestamp()) == int(created.timestamp()):
            return
        incus("snapshot", "delete", name, SNAP)
        incus("exec", name, "--", "rm", "-f", FILE)
        time.sleep(0.2)
    pytest.fail(f"could not make the file and the snapshot within one second in {TRIES} tries")


def test_a_file_made_just_before_the_snapshot_in_the_same_second_fails(instance: str, tmp_path: Path) -> None:
    in_one_second(instance, file_first=True)
    result = touch_result(instance, tmp_path / "j.json")
    assert result["status"] == "failed", result
    assert "older than the snapshot" in result["message"] and "microsecond" in result["evidence"][0]


def test_a_file_made_just_after_the_snapshot_in_the_same_second_passes(instance: str, tmp_path: Path) -> None:
    in_one_second(instance, file_first=False)
    result = touch_result(instance, tmp_path / "j.json")
    assert result["status"] == "passed", result
    assert "microsecond" in result["evidence"][0]


def test_a_tie_on_a_stopped_instance_is_not_verified_never_passed(instance: str, tmp_path: Path) -> None:
    in_one_second(instance, file_first=True)
    incus("stop", instance)
    result = touch_result(instance, tmp_path / "j.json")
    assert result["status"] == "not_verified", result
    assert "same second" in result["message"]


def test_a_file_time_set_in_the_future_fails_with_its_own_diagnosis(instance: str, tmp_path: Path) -> None:
    incus("exec", instance, "--", "touch", FILE)
    incus("snapshot", "create", instance, SNAP)
    incus("exec", instance, "--", "touch", "-d", "2099-01-01", FILE)
    result = touch_result(instance, tmp_path / "j.json")
    assert result["status"] == "failed" and "2099-01-01" in result["message"], result
    assert "time still to come" in result["message"] and "touch" in result["hint"]
