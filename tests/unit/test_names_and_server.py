from __future__ import annotations

import pytest

from labkit.errors import InvalidName
from labkit.incus.client import find_endpoint
from labkit.incus.names import validate_instance, validate_snapshot
from labkit.incus.timestamps import parse_incus_time, parse_modified
from labkit.provision.storage import has_root_disk, pool_request, preferred_drivers, root_disk


@pytest.mark.parametrize("name", ["ubuntu-test", "a", "lk-t-0123abcd", "A" * 63])
def test_valid_instance_names(name: str) -> None:
    assert validate_instance(name) == name


@pytest.mark.parametrize("name", ["", "9lives", "-x", "x-", "has space", "under_score", "a/b", "A" * 64])
def test_invalid_instance_names_get_a_message_in_both_languages(name: str) -> None:
    with pytest.raises(InvalidName) as caught:
        validate_instance(name)
    assert "ubuntu-test" in caught.value.render("en") and "«" in caught.value.render("fr")


@pytest.mark.parametrize("name", ["", "a/b", "two words", ".."])
def test_invalid_snapshot_names(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_snapshot(name)


def test_storage_pool_and_profile_configuration() -> None:
    assert pool_request("default", "btrfs")["config"]["size"].endswith("GiB")
    assert pool_request("default", "dir")["config"] == {}
    assert root_disk("default") == {"type": "disk", "path": "/", "pool": "default"}
    assert has_root_disk({"devices": {"root": root_disk("p")}})
    assert not has_root_disk({"devices": {"eth0": {"type": "nic"}}})
    assert preferred_drivers(True) == ["btrfs", "dir"] and preferred_drivers(False) == ["dir"]


def test_endpoint_follows_incus_socket_and_the_user_socket(tmp_path) -> None:
    assert str(find_endpoint(environ={"INCUS_SOCKET": "/x/s"}).socket) == "/x/s"
    user = tmp_path / "unix.socket.user"
    user.touch()
    endpoint = find_endpoint(environ={"INCUS_DIR": str(tmp_path)})
    assert endpoint.restricted_socket and endpoint.project.startswith("user-")


def test_incus_timestamps() -> None:
    assert parse_incus_time("2026-11-26T04:51:56.754186123Z").tzinfo is not None
    assert parse_incus_time("0001-01-01T00:00:00Z") is None
    assert parse_modified("2026-11-26 04:47:12 +0000 UTC").second == 12
    assert parse_modified("garbage") is None
