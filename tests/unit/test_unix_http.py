"""The check's read-only requests without httpx (unix_http.py): same answers, same error mapping.

Answers are the ones a real Incus 6.0.4 daemon sent (tests/fixtures/api); the error
cases reuse the bodies of tests/unit/test_incus_client.py.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from labkit.errors import IncusAccessDenied, IncusTimeout, IncusUnavailable, InstanceNotFound
from labkit.incus import unix_http
from labkit.incus.client import Endpoint, IncusClient
from labkit.incus.client_config import parse

from .fake_incus import FakeIncus
from .test_incus_client import FORBIDDEN


def lean(path: Path, timeout: float = 30.0) -> IncusClient:
    return IncusClient(Endpoint(path, "default"), lean_reads=True, timeout=timeout)


def test_reads_what_the_daemon_answered(tmp_path: Path) -> None:
    with FakeIncus(tmp_path / "s") as fake:
        client = lean(fake.path)
        assert client.instance("ubuntu-test")["name"] == "ubuntu-test"
        assert [s["name"] for s in client.snapshots("ubuntu-test")] == ["ubuntu-test-1"]
        info = client.file_info("ubuntu-test", "/root/this_file.txt")
        assert info is not None and info.kind == "file" and info.modified is not None
        assert client.file_info("ubuntu-test", "/this_file.txt") is None
        with pytest.raises(InstanceNotFound):
            client.instance("lk-no-such-instance")
    assert client._http is None  # httpx never needed


def test_the_daemons_errors_map_as_with_httpx(tmp_path: Path) -> None:
    body = json.dumps(FORBIDDEN)
    answers = {"GET /1.0/instances/ubuntu-test/snapshots?recursion=1&project=p2":
               f"HTTP/1.0 500 Internal Server Error\r\nContent-Type: application/json\r\n\r\n{body}"}
    with FakeIncus(tmp_path / "s", answers) as fake:
        client = IncusClient(Endpoint(fake.path, "p2"), lean_reads=True)
        with pytest.raises(IncusAccessDenied):
            client.snapshots("ubuntu-test")


def test_no_daemon_no_answer_or_no_http_become_labkit_errors(tmp_path: Path) -> None:
    with pytest.raises(IncusUnavailable):
        lean(tmp_path / "missing").instance("ubuntu-test")
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(tmp_path / "silent"))
    silent.listen(4)  # accepts connections (the kernel does) and never answers
    with pytest.raises(IncusTimeout):
        lean(tmp_path / "silent", timeout=0.1).instance("ubuntu-test")
    silent.close()
    with FakeIncus(tmp_path / "garbage", {"GET /1.0/instances/x?project=default": "SSH-2.0-OpenSSH\r\n"}) as fake:
        with pytest.raises(IncusUnavailable):
            lean(fake.path).instance("x")


def test_writes_still_go_through_httpx(tmp_path: Path) -> None:
    import httpx

    seen = []
    client = IncusClient(Endpoint(tmp_path / "s", "default"), lean_reads=True)
    client._http = httpx.Client(transport=httpx.MockTransport(
        lambda r: seen.append(r.method) or httpx.Response(200, json={"type": "sync", "metadata": {}})), base_url="http://incus")
    client.request("PATCH", "/1.0/instances/x", json={"config": {}})
    assert seen == ["PATCH"]


def test_parses_chunked_and_length_bounded_bodies() -> None:
    chunked = unix_http.parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n")
    assert chunked.json() == {"a": 1}
    sized = unix_http.parse(b"HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\nX-Incus-Type: file\r\n\r\n{}extra")
    assert (sized.status_code, sized.reason_phrase, sized.content) == (404, "Not Found", b"{}")
    assert sized.headers.get("x-incus-type") == sized.headers["X-Incus-Type"] == "file"
    with pytest.raises(unix_http.ProtocolError):
        unix_http.parse(b"garbage")
    with pytest.raises(ValueError):
        unix_http.request("/nonexistent", "POST", "/1.0")


# -- the client's config.yml ----------------------------------------------------------
BUNDLE = ("default-remote: demo\nremotes:\n  demo:\n    addr: https://server.example:8443\n    auth_type: tls\n"
          "    project: learner-01\n    protocol: incus\n    public: false\naliases: {}\n")
INCUS = ("default-remote: local\nremotes:\n  images:\n    addr: https://images.linuxcontainers.org\n"
         "    protocol: simplestreams\n    public: true\n"
         "  local:\n    addr: unix://\n    protocol: incus\n    public: false\n")


@pytest.mark.parametrize("text", [
    INCUS, BUNDLE, INCUS + "aliases: {}\n", "", "a: yes\nb: tRue\nc: NULL\nd: Off\n",
    # other shapes: PyYAML reads them
    "remotes:\n", "default-remote: 'demo'\n", "default-remote: demo # comment\n", "default-remote: on\n",
    "remotes:\n    c1:\n        addr: https://x\n", "x:\n  - a\n", "a: 1\n", "---\na: b\n", "a: b c\n",
    "default-remote: a\ndefault-remote: b\n", "remotes:\n  c1:\n    addr: unix://\n  c1:\n    addr: https://x\n",
])
def test_config_reads_as_pyyaml_reads_it(text: str) -> None:
    assert parse(text) == (yaml.safe_load(text) or {})


@pytest.mark.parametrize("text", ["a: b\n  c: d\n", "- a\n", "a: [b\n"])
def test_a_broken_or_odd_config_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)


def test_incus_own_config_is_read_without_pyyaml() -> None:
    probe = ("import sys; from labkit.incus.client_config import parse; "
             f"assert parse({INCUS!r})['remotes']['local']['addr'] == 'unix://'; "
             f"parse({BUNDLE!r}); print('yaml' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_lean_reads_can_be_sent_from_several_threads_at_once(tmp_path: Path) -> None:
    with FakeIncus(tmp_path / "s") as fake:
        client = lean(fake.path)
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(client.instance("ubuntu-test")["name"]))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == ["ubuntu-test"] * 8


@pytest.mark.parametrize("text", [
    "remotes: [a, b]\n", "remotes:\n  local: 5\n", "default-remote: [x]\n", "remotes:\n  r: {addr: [a]}\n",
])
def test_a_config_of_a_shape_incus_refuses_is_a_value_error(text: str) -> None:
    # Before: certs.read_remote (every command) ended in AttributeError or TypeError on these.
    with pytest.raises(ValueError):
        parse(text)


def test_a_fifo_a_device_or_a_huge_config_is_not_read(tmp_path: Path) -> None:
    from labkit.incus.client_config import LIMIT, read

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "huge").write_bytes(b"#" * (LIMIT + 1))
    for name in ("fifo", "zero", "huge"):  # a FIFO would block, /dev/zero fill memory
        with pytest.raises(OSError):
            read(tmp_path / name)
    (tmp_path / "ok").write_text("remotes: {}\n")
    assert read(tmp_path / "ok") == "remotes: {}\n"
