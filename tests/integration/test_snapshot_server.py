"""`labkit setup --snapshot-server`: a second, real Incus daemon on loopback.

Each server here has its own INCUS_DIR and a free port, so a real one (the CLI's
defaults) is never touched; the main daemon's core.https_address is left alone
(--no-main-listen) and copies use `--mode push`, which needs no listening source.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from labkit.provision.second_server import SnapshotServer

from .conftest import incus, labkit, unique


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def setup_server(folder: Path, port: int, *extra: str, lang: str = "en",
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return labkit("--lang", lang, "setup", "--snapshot-server", "--snapshot-server-dir", str(folder),
                  "--snapshot-server-port", str(port), "--no-main-listen", *extra, timeout=180, env=env)


def second(folder: Path, *args: str, conf: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INCUS_DIR": str(folder)}
    env.pop("INCUS_SOCKET", None)
    if conf is not None:
        env["INCUS_CONF"] = str(conf)
    result = subprocess.run(["incus", *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=180)
    assert not check or result.returncode == 0, result.stderr
    return result


def token_of(output: str) -> str:
    match = re.search(r"incus remote add incus-snapshot 127\.0\.0\.1:\d+ --token (\S+) --accept-certificate", output)
    assert match, output
    return match.group(1)


def assert_gone(server: SnapshotServer, pid: int) -> None:
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert str(server.incus_dir) not in Path("/proc/self/mounts").read_text()
    assert not server.incus_dir.exists()


@pytest.fixture(scope="module")
def server(image: str) -> Iterator[tuple[SnapshotServer, str]]:
    srv = SnapshotServer(Path("/var/lib") / unique("lk-snapsrv"), free_port())
    try:
        result = setup_server(srv.incus_dir, srv.port)
        assert result.returncode == 0, result.stderr
        yield srv, token_of(result.stdout)
    finally:
        labkit("setup", "--snapshot-server", "--snapshot-server-dir", str(srv.incus_dir), "--stop")


def test_up_on_loopback_and_second_call_is_a_no_op(server: tuple[SnapshotServer, str]) -> None:
    srv, token = server
    pid = srv.pid_file.read_text()
    info = json.loads(second(srv.incus_dir, "query", "/1.0").stdout)
    assert info["config"]["core.https_address"] == srv.address
    pools = json.loads(second(srv.incus_dir, "query", "/1.0/storage-pools?recursion=1").stdout)
    assert [(p["name"], p["driver"]) for p in pools] == [("default", "dir")]
    again = setup_server(srv.incus_dir, srv.port, lang="fr")
    assert again.returncode == 0, again.stderr
    # The caller's client is still not trusted: a fresh token, told apart by its name; the first stays valid.
    assert token_of(again.stdout) != token
    assert srv.pid_file.read_text() == pid
    tokens = json.loads(second(srv.incus_dir, "config", "trust", "list-tokens", "--format", "json").stdout)
    names = [t.get("client_name") or t.get("ClientName") for t in tokens]
    assert len(set(names)) == 2 and all(n.startswith("learner-root-") for n in names), tokens


def test_token_copy_of_a_snapshot_and_refresh(
        server: tuple[SnapshotServer, str], instance: str, tmp_path: Path) -> None:
    srv, token = server
    conf = tmp_path / "client"
    conf.mkdir()
    env = {**os.environ, "INCUS_CONF": str(conf)}

    def client(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["incus", *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=180)
        assert result.returncode == 0, result.stderr
        return result

    client("remote", "add", "incus-snapshot", srv.address, "--token", token, "--accept-certificate")
    trusted = json.loads(second(srv.incus_dir, "query", "/1.0/certificates?recursion=1").stdout)
    assert [c["name"][:len("learner-root-")] for c in trusted] == ["learner-root-"]
    incus("snapshot", "create", instance, "snap0")
    copy = unique("lk-copy")
    client("copy", f"{instance}/snap0", f"incus-snapshot:{copy}", "--mode", "push")
    made = json.loads(second(srv.incus_dir, "query", f"/1.0/instances/{copy}?recursion=1").stdout)
    assert made["name"] == copy and made["snapshots"] in (None, [])
    incus("snapshot", "create", instance, "snap1")
    client("copy", instance, f"incus-snapshot:{copy}", "--refresh", "--mode", "push")
    snaps = json.loads(second(srv.incus_dir, "query", f"/1.0/instances/{copy}/snapshots?recursion=1").stdout)
    assert sorted(s["name"] for s in snaps) == ["snap0", "snap1"]
    # doctor sees the server and the learner's remote for it
    result = labkit("--container", instance, "doctor", "--json",
                    env={"LABKIT_SNAPSHOT_SERVER_DIR": str(srv.incus_dir), "INCUS_CONF": str(conf)})
    checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["snapshot_server"]["ok"] and srv.address in checks["snapshot_server"]["message"]
    assert "dir" in checks["snapshot_server"]["message"] and "6." in checks["snapshot_server"]["message"]
    assert checks["remote"]["ok"] and "incus-snapshot" in checks["remote"]["message"]
    # once the caller's certificate is trusted, setup says so and makes no new token
    again = setup_server(srv.incus_dir, srv.port, env={"INCUS_CONF": str(conf)})
    assert again.returncode == 0 and "--token" not in again.stdout and "already trusted" in again.stdout
    second(srv.incus_dir, "delete", copy, "--force")


def test_each_untrusted_client_gets_a_token_of_its_own_and_a_trusted_one_none(
        server: tuple[SnapshotServer, str], tmp_path: Path) -> None:
    """A second user of the machine (or a learner who reset their client folder) gets a token, never
    “already trusted” about someone else's certificate (issue 19)."""
    srv, _ = server
    folders = {who: tmp_path / who for who in ("first", "second")}
    names = {}
    for who, conf in folders.items():
        conf.mkdir()
        done = setup_server(srv.incus_dir, srv.port, env={"INCUS_CONF": str(conf)})
        assert done.returncode == 0, done.stderr
        env = {**os.environ, "INCUS_CONF": str(conf)}
        added = subprocess.run(["incus", "remote", "add", "incus-snapshot", srv.address,
                                "--token", token_of(done.stdout), "--accept-certificate"],
                               env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        trusted = json.loads(second(srv.incus_dir, "query", "/1.0/certificates?recursion=1").stdout)
        names[who] = [c["name"] for c in trusted]
        again = setup_server(srv.incus_dir, srv.port, lang="fr", env={"INCUS_CONF": str(conf)})
        assert "--token" not in again.stdout and "déjà" in again.stdout, again.stdout
    assert len(set(names["second"])) == len(names["second"]) == len(names["first"]) + 1  # told apart by name
    for cert in json.loads(second(srv.incus_dir, "query", "/1.0/certificates?recursion=1").stdout):
        if cert["name"] in names["second"]:
            second(srv.incus_dir, "config", "trust", "remove", cert["fingerprint"])


def test_setup_as_another_user_once_the_snapshot_server_exists_says_what_to_do(
        server: tuple[SnapshotServer, str]) -> None:
    """Its folder is not readable by others (0711): that is no reason for a usage error about an option
    nobody passed; the usual paragraph (root, or the incus-admin group), in the user's language."""
    srv, _ = server
    for lang, words in (("en", "incus-admin"), ("fr", "incus-admin")):
        done = labkit("--lang", lang, "setup", "--yes", user="nobody",
                      env={"HOME": "/tmp", "LABKIT_SNAPSHOT_SERVER_DIR": str(srv.incus_dir)})
        assert done.returncode == 2 and words in done.stderr, done.stderr
        assert "Invalid value" not in done.stderr and "--snapshot-server-dir" not in done.stderr
        assert "Traceback" not in done.stderr


def test_doctor_without_remote_and_stopped(tmp_path: Path, image: str) -> None:
    folder = Path("/var/lib") / unique("lk-snapsrv")
    folder.mkdir()
    try:
        result = labkit("doctor", "--json",
                        env={"LABKIT_SNAPSHOT_SERVER_DIR": str(folder), "INCUS_CONF": str(tmp_path)})
        checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
        assert checks["snapshot_server"]["ok"] is False and "--snapshot-server" in checks["snapshot_server"]["message"]
    finally:
        folder.rmdir()


@pytest.mark.parametrize("lang, words", [("en", "already used"), ("fr", "déjà utilisé")])
def test_port_taken_is_a_clear_error(lang: str, words: str, image: str) -> None:
    folder = Path("/var/lib") / unique("lk-snapsrv")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = setup_server(folder, port, lang=lang)
    assert result.returncode == 2
    assert words in result.stderr and str(port) in result.stderr and "Traceback" not in result.stderr
    assert not folder.exists()


def test_stop_leaves_no_process_mount_or_folder(image: str) -> None:
    srv = SnapshotServer(Path("/var/lib") / unique("lk-snapsrv"), free_port())
    try:
        assert setup_server(srv.incus_dir, srv.port).returncode == 0
        pid = int(srv.pid_file.read_text())
        assert Path(f"/proc/{pid}").exists()
    finally:
        stopped = labkit("setup", "--snapshot-server", "--snapshot-server-dir", str(srv.incus_dir), "--stop")
    assert stopped.returncode == 0, stopped.stderr
    assert_gone(srv, pid)
    again = labkit("setup", "--snapshot-server", "--snapshot-server-dir", str(srv.incus_dir), "--stop")
    assert again.returncode == 0 and "nothing to stop" in again.stdout


def test_a_named_server_is_checked_by_asking_it(tmp_path: Path, image: str) -> None:
    nobody = free_port()
    result = labkit("setup", "--snapshot-server-url", f"https://127.0.0.1:{nobody}",
                    env={"LABKIT_STATE_DIR": str(tmp_path)})
    assert result.returncode == 2 and "/1.0" in result.stderr and "Traceback" not in result.stderr


def test_a_real_server_named_by_url(server: tuple[SnapshotServer, str], tmp_path: Path) -> None:
    srv, _ = server
    result = labkit("setup", "--snapshot-server-url", f"https://{srv.address}", env={"LABKIT_STATE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "Incus API 1.0" in result.stdout and "incus remote add incus-snapshot" in result.stdout
    assert json.loads((tmp_path / "snapshot-server.json").read_text()) == {"remote": "incus-snapshot", "url": f"https://{srv.address}"}
