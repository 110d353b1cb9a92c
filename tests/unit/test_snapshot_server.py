"""The snapshot server's pure parts: the token format, the client's remotes."""
from __future__ import annotations

from pathlib import Path

from labkit.provision.second_server import client_remote, remote_add_command
from labkit.provision.snapshot_server_tokens import encode_token

# Printed by `INCUS_DIR=… incus config trust add probe2 -q` on Incus 6.0.4 (2026-12-02), and the
# metadata of the same kind of token operation (POST /1.0/certificates {"token": true}).
CLI_TOKEN = ("eyJjbGllbnRfbmFtZSI6InByb2JlMiIsImZpbmdlcnByaW50IjoiODAwMjFiMjhlOWFiMGFmNjM1M2ZjZDczN2NmM2JiNWI3ZjYxOGIx"
             "OTFjNDMwMGZmOTFmODViMjI1YzNhZmIzZiIsImFkZHJlc3NlcyI6WyIxMjcuMC4wLjE6MTg0NDQiXSwic2VjcmV0IjoiNDUxZDc0YWU1"
             "NGNkZjE1MWJkYjM2MDcyYzRjYzBhM2RmZWYwMWUzOTYxNWM4MGEzOTA5NGI5Y2U3MzM3NzgwYSIsImV4cGlyZXNfYXQiOiIwMDAxLTAx"
             "LTAxVDAwOjAwOjAwWiJ9")
OPERATION_METADATA = {
    "addresses": ["127.0.0.1:18444"],
    "fingerprint": "80021b28e9ab0af6353fcd737cf3bb5b7f618b191c4300ff91f85b225c3afb3f",
    "request": {"name": "probe2", "token": True, "type": "client"},
    "secret": "451d74ae54cdf151bdb36072c4cc0a3dfef01e39615c80a39094b9ce7337780a",
}


def test_token_is_what_the_official_client_prints() -> None:
    assert encode_token("probe2", OPERATION_METADATA) == CLI_TOKEN


def test_token_changes_with_the_secret() -> None:
    assert encode_token("probe2", {**OPERATION_METADATA, "secret": "0" * 64}) != CLI_TOKEN


def test_remote_add_command() -> None:
    assert remote_add_command("127.0.0.1:8444", "T") == ("incus remote add incus-snapshot 127.0.0.1:8444 --token T "
                                                         "--accept-certificate")


def test_client_remote_matches_the_address(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text(
        "default-remote: local\nremotes:\n  local:\n    addr: unix://\n    protocol: incus\n    public: false\n"
        "  backup:\n    addr: https://127.0.0.1:8444\n    auth_type: tls\n    project: default\n    protocol: incus\n"
        "    public: false\naliases: {}\n")
    assert client_remote("127.0.0.1:8444", tmp_path) == "backup"
    assert client_remote("https://127.0.0.1:8444", tmp_path) == "backup"
    assert client_remote("127.0.0.1:8445", tmp_path) is None
    assert client_remote("127.0.0.1:8444", tmp_path / "missing") is None
