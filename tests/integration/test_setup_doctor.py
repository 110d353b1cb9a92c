"""`labkit setup` and `labkit doctor` on a real daemon, in both languages."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from labkit.app import recorder_service
from labkit.incus.client import IncusClient, find_endpoint
from labkit.provision.image import default_image, find_image, local_images
from labkit.provision.storage import default_pool, ensure_root_disk

from .conftest import delete_instance, incus, labkit, unique


@pytest.fixture
def empty_project(image: str) -> Iterator[str]:
    """A project with its own, empty default profile (no root disk): an Incus with nothing set up.

    Images stay shared with the default project, so the lab image is not rebuilt.
    """
    name = unique("lk-p")
    incus("project", "create", name, "-c", "features.images=false", "-c", "features.profiles=true")
    try:
        yield name
    finally:
        for inst in json.loads(incus("list", "--project", name, "--format", "json").stdout):
            delete_instance(inst["name"], name)
        incus("project", "delete", name, check=False)


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Setup starts an event recorder: its files and journal go to the test's folder, not root's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def instance_state(project: str, name: str) -> dict:
    return json.loads(incus("query", f"/1.0/instances/{name}?project={project}").stdout)


def test_setup_from_an_empty_project_then_a_second_run_changes_nothing(empty_project: str) -> None:
    profile = json.loads(incus("query", f"/1.0/profiles/default?project={empty_project}").stdout)
    assert "root" not in profile["devices"]
    first = labkit("--lang", "en", "--project", empty_project, "setup", "--yes")
    assert first.returncode == 0, first.stderr
    state = instance_state(empty_project, "ubuntu-test")
    assert state["status"] == "Running"
    profile = json.loads(incus("query", f"/1.0/profiles/default?project={empty_project}").stdout)
    assert profile["devices"]["root"]["path"] == "/"

    second = labkit("--lang", "fr", "--project", empty_project, "setup", "--yes")
    assert second.returncode == 0, second.stderr
    assert "existe déjà" in second.stderr
    again = instance_state(empty_project, "ubuntu-test")
    assert again["config"]["volatile.uuid"] == state["config"]["volatile.uuid"]
    assert again["status"] == "Running"

    doctor = labkit("--project", empty_project, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    report = json.loads(doctor.stdout)
    assert report["ok"]
    assert {c["id"] for c in report["checks"]} >= {"daemon", "access", "version", "storage", "instance"}


def test_recreate_asks_for_confirmation_then_rebuilds(empty_project: str) -> None:
    assert labkit("--project", empty_project, "--container", "lk-r", "setup", "--yes").returncode == 0
    before = instance_state(empty_project, "lk-r")["config"]["volatile.uuid"]
    refused = labkit("--lang", "fr", "--project", empty_project, "--container", "lk-r", "setup", "--recreate")
    assert refused.returncode == 2 and "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert instance_state(empty_project, "lk-r")["config"]["volatile.uuid"] == before
    rebuilt = labkit("--project", empty_project, "--container", "lk-r", "setup", "--recreate", "--yes")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert instance_state(empty_project, "lk-r")["config"]["volatile.uuid"] != before
    # The old instance's recorder left with it; setup started one for the new instance.
    recorder = recorder_service.status(empty_project, "lk-r")
    assert recorder.running and recorder.connected


def test_one_image_lookup_finds_an_image_by_alias_fingerprint_and_prefix(empty_project: str, image: str) -> None:
    """setup, the local image's import, doctor and classes all ask `local_images` (image.py)."""
    if ":" in image:
        pytest.skip(f"the lab image {image} is on an image server, not on this one")
    fingerprint = json.loads(incus("query", f"/1.0/images/aliases/{image}").stdout)["target"]
    with IncusClient(find_endpoint(empty_project)) as client:  # features.images=false: the default project's
        images = local_images(client)
        assert images[image] == fingerprint and images[fingerprint] == fingerprint
        assert find_image(images, image) == find_image(images, fingerprint[:12]) == fingerprint
        assert find_image(images, "no-such/image") is None
        if image.startswith("labkit/"):  # what classes build their golden instance from, with no --image
            assert default_image(client).startswith("labkit/") and default_image(client) in images
    # The same answer as `incus image list`, the learner's view.
    listed = json.loads(incus("image", "list", "--project", empty_project, "--format", "json").stdout)
    assert set(images.values()) == {i["fingerprint"] for i in listed}


def test_root_disks_are_written_in_one_place_kept_unless_exact(empty_project: str) -> None:
    """provision/storage.py: setup keeps a root disk it finds; a class's own project gets exactly its own."""
    def root() -> dict:
        profile = json.loads(incus("query", f"/1.0/profiles/default?project={empty_project}").stdout)
        return profile["devices"].get("root")

    with IncusClient(find_endpoint(empty_project)) as client:
        pool = default_pool(client)
        default_root = json.loads(incus("query", "/1.0/profiles/default?project=default").stdout)["devices"]["root"]
        assert pool == default_root["pool"]
        assert ensure_root_disk(client, pool, size="2GiB", config={"limits.processes": "500"})
        assert root() == {"type": "disk", "path": "/", "pool": pool, "size": "2GiB"}
        # Setup's call: a root disk is there, whatever its size: kept, nothing written.
        assert not ensure_root_disk(client, pool)
        # A class's call on its own project: exactly this size, and its limits, from another client's project.
    with IncusClient(find_endpoint()) as client:
        assert ensure_root_disk(client, pool, project=empty_project, size="1GiB", exact=True)
        assert not ensure_root_disk(client, pool, project=empty_project, size="1GiB",
                                    config={"limits.processes": "500"}, exact=True)
    assert root() == {"type": "disk", "path": "/", "pool": pool, "size": "1GiB"}
    assert json.loads(incus("query", f"/1.0/profiles/default?project={empty_project}").stdout)["config"] == {
        "limits.processes": "500"}


@pytest.mark.parametrize("lang, words", [("en", "was not found"), ("fr", "introuvable")])
def test_an_unknown_image_is_refused_and_nothing_is_left(empty_project: str, lang: str, words: str) -> None:
    result = labkit("--lang", lang, "--project", empty_project, "--container", "lk-i", "setup",
                    "--image", "no-such/image", "--yes")
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
    assert json.loads(incus("list", "--project", empty_project, "--format", "json").stdout) == []


def test_an_instance_name_incus_would_reject_is_refused_before_anything(empty_project: str) -> None:
    result = labkit("--lang", "fr", "--project", empty_project, "--container", "9_bad", "setup", "--yes")
    assert result.returncode == 2 and "9_bad" in result.stderr and "«" in result.stderr


@pytest.mark.parametrize("lang, words", [("en", "not reachable"), ("fr", "injoignable")])
def test_doctor_reports_a_daemon_whose_socket_is_missing(tmp_path: Path, lang: str, words: str) -> None:
    result = labkit("--lang", lang, "doctor", "--json", env={"INCUS_SOCKET": str(tmp_path / "unix.socket")})
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False and words in report["checks"][0]["message"]
    text = labkit("--lang", lang, "doctor", env={"INCUS_SOCKET": str(tmp_path / "unix.socket")})
    assert text.returncode == 2 and "✘" in text.stdout


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_doctor_as_a_user_without_access_names_the_group_to_join(lang: str, image: str) -> None:
    result = labkit("--lang", lang, "doctor", "--json", user="nobody", env={"HOME": "/tmp"})
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    access = next(c for c in report["checks"] if c["id"] == "access")
    assert not access["ok"] and "incus-admin" in access["message"]
    assert ("Ask an administrator" in access["message"]) if lang == "en" else ("administrateur" in access["message"])


def test_check_with_incus_socket_pointing_at_nothing_exits_2(tmp_path: Path) -> None:
    for lang, words in (("en", "not reachable"), ("fr", "injoignable")):
        result = labkit("--lang", lang, "check", "--json", env={"INCUS_SOCKET": str(tmp_path / "nothing")})
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""


def test_check_as_nobody_exits_2_and_names_the_group(image: str) -> None:
    result = labkit("--lang", "fr", "check", user="nobody", env={"HOME": "/tmp"})
    assert result.returncode == 2 and "incus-admin" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("lang, words", [("en", "needs root"), ("fr", "root")])
def test_setup_without_root_and_without_incus_says_what_to_run(
        tmp_path: Path, lang: str, words: str, image: str) -> None:
    result = labkit("--lang", lang, "setup", "--yes", user="nobody",
                    env={"HOME": "/tmp", "INCUS_SOCKET": "/nonexistent/unix.socket"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert words in result.stderr and "sudo labkit setup" in result.stderr and "incus-admin" in result.stderr


def test_setup_as_a_user_without_access_names_the_group(tmp_path: Path, image: str) -> None:
    tmp_path.chmod(0o777)
    result = labkit("--lang", "fr", "setup", "--yes", user="nobody", env={"HOME": str(tmp_path)})
    assert result.returncode == 2 and "incus-admin" in result.stderr and "Traceback" not in result.stderr
