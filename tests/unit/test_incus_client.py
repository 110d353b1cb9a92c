"""The Incus client's error mapping, on answers as a real 6.0.4 daemon gives them (docs/incus-facts.md §3)."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from labkit.errors import IncusAccessDenied, IncusRequestFailed, IncusTimeout, IncusUnavailable, InstanceNotFound
from labkit.incus.client import Endpoint, IncusClient

# Bodies as Incus 6.0.4 sends them.
NOT_FOUND = {"type": "error", "status": "", "status_code": 0, "operation": "", "error_code": 404,
             "error": "Instance not found", "metadata": None}
FORBIDDEN = {"type": "error", "status": "", "status_code": 0, "operation": "", "error_code": 500,
             "error": 'User does not have permissions for project "p2"', "metadata": None}


def client(handler, project: str = "default") -> IncusClient:
    return IncusClient(Endpoint(Path("/nonexistent/unix.socket"), project), transport=httpx.MockTransport(handler))


def test_missing_instance_is_instance_not_found() -> None:
    c = client(lambda request: httpx.Response(404, json=NOT_FOUND))
    with pytest.raises(InstanceNotFound) as caught:
        c.instance("ghost")
    assert "ghost" in caught.value.render("en") and "labkit setup" in caught.value.render("fr")
    assert c.instance_or_none("ghost") is None


def test_a_forbidden_project_is_recognised_by_its_message_not_only_its_code() -> None:
    c = client(lambda request: httpx.Response(500, json=FORBIDDEN), project="p2")
    with pytest.raises(IncusAccessDenied) as caught:
        c.snapshots("ubuntu-test")
    assert "p2" in caught.value.render("en")


def test_another_500_stays_a_failed_request_with_the_daemons_words() -> None:
    c = client(lambda request: httpx.Response(500, json={**FORBIDDEN, "error": "Failed to mount"}))
    with pytest.raises(IncusRequestFailed) as caught:
        c.snapshots("ubuntu-test")
    assert "Failed to mount" in caught.value.render("fr")


def test_the_project_is_sent_with_every_request() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params.get("project"))
        return httpx.Response(200, json={"type": "sync", "metadata": []})
    client(handler, project="user-1000").snapshots("ubuntu-test")
    assert seen == ["user-1000"]


def test_a_background_operation_is_waited_for_and_its_failure_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/wait"):
            return httpx.Response(200, json={"type": "sync", "metadata": {"status": "Failure", "status_code": 400,
                                                                          "err": "Snapshot is busy",
                                                                          "description": "Deleting snapshot"}})
        return httpx.Response(202, json={"type": "async", "operation": "/1.0/operations/42", "metadata": {}})
    with pytest.raises(IncusRequestFailed) as caught:
        client(handler).request("DELETE", "/1.0/instances/c/snapshots/s")
    assert "Snapshot is busy" in caught.value.render("en")


def test_an_operation_still_running_after_the_wait_is_a_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/wait"):
            return httpx.Response(200, json={"type": "sync", "metadata": {"status": "Running", "status_code": 103,
                                                                          "description": "Restoring"}})
        return httpx.Response(202, json={"type": "async", "operation": "/1.0/operations/42", "metadata": {}})
    with pytest.raises(IncusTimeout):
        client(handler).request("PUT", "/1.0/instances/c", json={"restore": "s"})


def test_a_daemon_that_does_not_answer_in_time_is_a_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)
    with pytest.raises(IncusTimeout) as caught:
        client(handler).server()
    assert "n’a pas répondu dans un délai de" in caught.value.render("fr")


def test_a_missing_socket_is_a_daemon_down() -> None:
    with pytest.raises(IncusUnavailable) as caught:
        IncusClient(Endpoint(Path("/nonexistent/unix.socket"), "default")).server()
    assert "/nonexistent/unix.socket" in caught.value.render("fr")


def test_file_presence_uses_head_and_reads_the_modification_time() -> None:
    methods = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        return httpx.Response(200, headers={"X-Incus-Type": "file",
                                            "X-Incus-Modified": "2026-11-26 04:47:12 +0000 UTC"})
    info = client(handler).file_info("c", "/root/this_file.txt")
    assert methods == ["HEAD"] and info.kind == "file" and info.modified.minute == 47
