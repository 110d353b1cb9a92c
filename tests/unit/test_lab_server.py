"""`labkit lab` without starting JupyterLab: addresses, the ssh tunnel, free ports, a missing JupyterLab.

tests/browser/test_make_lab.py starts the real thing through `make lab`."""
from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from labkit.cli.main import main
from labkit.errors import LabServerError, UsageError
from labkit.labs import DEFAULT_LAB, chapter_named
from labkit.notebooks.server import (
    Listen,
    find_free_port,
    headless,
    jupyter_argv,
    notebook_path,
    parse_listen,
    public_host,
    ssh_command,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text, host, port, loopback", [
    ("127.0.0.1:8888", "127.0.0.1", 8888, True),
    ("8890", "127.0.0.1", 8890, True),
    ("localhost:9000", "localhost", 9000, True),
    ("0.0.0.0:8888", "0.0.0.0", 8888, False),
    ("[::1]:8888", "::1", 8888, True),
    ("[::]:8888", "::", 8888, False),
    ("192.0.2.7:80", "192.0.2.7", 80, False),
    ("training.example:8888", "training.example", 8888, False),
])
def test_listen_addresses(text: str, host: str, port: int, loopback: bool) -> None:
    listen = parse_listen(text)
    assert (listen.host, listen.port, listen.loopback) == (host, port, loopback)


@pytest.mark.parametrize("text", ["127.0.0.1:", "127.0.0.1:http", "0.0.0.0:70000", "", "host:-1"])
def test_bad_listen_addresses_are_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_listen(text)
    assert "ADDR:PORT" in err.value.render("en") and "ADRESSE:PORT" in err.value.render("fr")


def test_a_wildcard_is_reached_on_loopback_and_ipv6_gets_brackets() -> None:
    assert parse_listen("0.0.0.0:8888").local_host == "127.0.0.1"
    assert parse_listen("[::]:8888").url_host() == "[::1]"
    assert str(parse_listen("[::1]:8888")) == "[::1]:8888"


@pytest.mark.parametrize("env, expected", [
    ({"DISPLAY": ":0"}, False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, False),
    ({}, True),
    ({"DISPLAY": ":0", "SSH_CONNECTION": "192.0.2.10 50022 192.0.2.1 22"}, True),
    ({"WAYLAND_DISPLAY": "wayland-0", "SSH_TTY": "/dev/pts/3"}, True),
])
def test_headless_means_no_display_or_an_ssh_session(env: dict[str, str], expected: bool) -> None:
    assert headless(env) is expected


def test_the_tunnel_goes_to_the_address_the_ssh_session_came_in_on() -> None:
    listen = Listen("127.0.0.1", 8889)
    env = {"SSH_CONNECTION": "192.0.2.10 50022 192.0.2.1 22"}
    assert ssh_command(listen, env, "root", "vm") == "ssh -L 8889:127.0.0.1:8889 root@192.0.2.1"
    assert ssh_command(listen, {}, "alice", "vm") == "ssh -L 8889:127.0.0.1:8889 alice@vm"
    v6 = {"SSH_CONNECTION": "2001:db8::10 50022 2001:db8::1 22"}
    assert ssh_command(Listen("::1", 8888), v6, "root", "vm") == "ssh -L 8888:[::1]:8888 root@[2001:db8::1]"
    # Listening everywhere: the tunnel still ends on this machine's loopback.
    assert ssh_command(Listen("0.0.0.0", 8888), {}, "root", "vm") == "ssh -L 8888:127.0.0.1:8888 root@vm"


def test_a_taken_port_gives_the_next_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        chosen = find_free_port(Listen("127.0.0.1", port))
        assert chosen != port and port < chosen < port + 20


def test_no_free_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LabServerError) as err:
            find_free_port(Listen("127.0.0.1", port), tries=1)
    assert "--listen" in err.value.render("en") and str(port) in err.value.render("fr")


def test_an_address_of_another_machine_is_a_clear_error() -> None:
    with pytest.raises(LabServerError) as err:
        find_free_port(Listen("192.0.2.7", 8888))  # TEST-NET-1: never an address of this machine
    assert "192.0.2.7:8888" in err.value.render("en")


def test_allow_root_only_as_root_and_the_token_never_on_the_command_line() -> None:
    listen = Listen("127.0.0.1", 8888)
    as_root = jupyter_argv(listen, ROOT / "notebooks", "fr/snapshots.ipynb", as_root=True)
    as_user = jupyter_argv(listen, ROOT / "notebooks", "fr/snapshots.ipynb", as_root=False)
    assert "--allow-root" in as_root and "--allow-root" not in as_user
    assert "--ServerApp.default_url=/lab/tree/fr/snapshots.ipynb" in as_user
    assert not any("token" in arg.lower() for arg in as_root)


def test_the_notebook_in_each_language_exists_and_a_wrong_root_is_named() -> None:
    notebook = chapter_named(DEFAULT_LAB).notebook
    assert notebook_path(ROOT / "notebooks", "fr", notebook) == f"fr/{notebook}.ipynb"
    assert notebook_path(ROOT / "notebooks", "en", notebook) == f"en/{notebook}.ipynb"
    with pytest.raises(UsageError):
        notebook_path(ROOT, "en", notebook)
    with pytest.raises(UsageError):
        notebook_path(ROOT / "notebooks", "en", "no-such-lab")


def test_jupyterlab_missing_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jupyterlab" else real(name, *a))
    for lang, words in (("en", "JupyterLab is not installed"), ("fr", "JupyterLab n’est pas installé")):
        result = CliRunner().invoke(main, ["--lang", lang, "lab", "--root", str(ROOT)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and sys.executable in lines[0], result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unknown_lab_is_refused_before_anything_starts() -> None:
    result = CliRunner().invoke(main, ["--lang", "en", "lab", "--lab", "no-such-lab", "--root", str(ROOT)])
    assert result.exit_code == 2 and "no-such-lab" in result.output, result.output


def test_the_printed_host_is_one_the_learner_can_reach() -> None:
    ssh = {"SSH_CONNECTION": "192.0.2.10 50022 192.0.2.1 22"}
    assert public_host(Listen("127.0.0.1", 8888), ssh) == "127.0.0.1"  # through ssh -L
    assert public_host(Listen("0.0.0.0", 8888), ssh) == "192.0.2.1"
    assert public_host(Listen("0.0.0.0", 8888), {}) == socket.gethostname()
    assert public_host(Listen("192.0.2.7", 8888), ssh) == "192.0.2.7"
