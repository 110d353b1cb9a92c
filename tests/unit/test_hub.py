"""The hub's pure parts: workspace names, limits and devices, the generated configuration, the
credentials sheet (its escaping and how it is written), the dashboard page, the accounts file."""
from __future__ import annotations

import html
import os
from pathlib import Path

import pytest

from labkit.errors import UsageError
from labkit.hub.config import HubPorts, render_config
from labkit.hub.credentials import Cards, as_json, sheet_html, write_sheet
from labkit.hub.dashboard_page import page_html
from labkit.hub.serve import parse_listen
from labkit.hub.state import Account, Accounts, HubState, new_password
from labkit.hub.workspace_limits import WorkspaceLimits
from labkit.hub.workspaces import Wiring, devices, lab_port, workspace_name
from labkit.labs import DEFAULT_LAB, chapter_named

HOSTILE = '<img src=x onerror="alert(1)">&'
GIB = 2**30


def test_workspace_names_are_instance_names_and_stay_distinct() -> None:
    assert workspace_name("learner01") == "ws-learner01"
    dotted, hyphen = workspace_name("Marie.Dupont"), workspace_name("marie-dupont")
    assert dotted != hyphen and dotted.startswith("ws-marie-dupont-")
    for name in (dotted, hyphen, workspace_name("a" * 32)):
        assert len(name) <= 63 and all(c.isalnum() or c == "-" for c in name)


def test_the_sizing_rule_shares_the_machine_between_learners() -> None:
    assert WorkspaceLimits.default_for(30, memory=24 * GIB).memory == "768MiB"  # (24 GiB − 1 GiB) / 30, to 64 MiB
    assert WorkspaceLimits.default_for(3, memory=24 * GIB).memory == "2048MiB"  # at most 2 GiB each
    assert WorkspaceLimits.default_for(30, memory=4 * GIB).memory == "512MiB"  # never below what JupyterLab needs
    default = WorkspaceLimits.default_for(10, memory=16 * GIB)
    assert (default.cpu, default.processes, default.disk, default.idle) == (1, 512, "3GiB", 60)


def test_workspace_limits_are_overridden_by_the_class_and_checked() -> None:
    chosen = WorkspaceLimits.default_for(3, memory=24 * GIB).with_text("memory=512MiB, idle=45,processes=300")
    assert (chosen.memory, chosen.idle, chosen.processes, chosen.cpu) == ("512MiB", 45, 300, 1)
    assert WorkspaceLimits().with_text(chosen.to_text()) == chosen
    config = chosen.instance_config()
    assert config["limits.memory"] == "512MiB" and config["limits.processes"] == "300"
    assert config["limits.cpu.allowance"] == "100ms/100ms" and "limits.cpu" not in config  # time, not a pinned core
    assert WorkspaceLimits(cpu=2).instance_config()["limits.cpu.allowance"] == "200ms/100ms"
    assert config["security.idmap.isolated"] == "true"
    for bad in ("memory", "ram=1GiB", "memory=lots", "cpu=two", "cpu=0", "memory=100MiB", "processes=10"):
        with pytest.raises(UsageError):
            WorkspaceLimits().with_text(bad)


def test_a_workspace_has_no_network_only_its_proxies_on_loopback() -> None:
    found = devices(Wiring(api="127.0.0.1:40443", hub_port=40081), 41000)
    assert set(found) == {"lab", "incus", "hub", "runtime"}
    assert not [d for d in found.values() if d["type"] == "nic"]
    assert found["lab"] == {"type": "proxy", "bind": "host", "listen": "tcp:127.0.0.1:41000",
                            "connect": "tcp:127.0.0.1:8888"}
    assert found["incus"]["bind"] == "container" and found["incus"]["connect"] == "tcp:127.0.0.1:40443"
    assert found["hub"]["connect"] == "tcp:127.0.0.1:40081" and found["hub"]["listen"] == "tcp:127.0.0.1:8081"
    assert found["runtime"]["readonly"] == "true"
    assert all(d["listen"].startswith("tcp:127.0.0.1:") for d in found.values() if d["type"] == "proxy")
    assert lab_port({"devices": found}) == 41000 and lab_port({"devices": {}}) is None
    wiring = Wiring(api="127.0.0.1:8443", hub_port=1, servers=(("snapshot-server", "127.0.0.1:8444"),))
    second = devices(wiring, 2)["snapshot-server"]
    assert second["listen"] == "tcp:127.0.0.1:8444" and second["connect"] == "tcp:127.0.0.1:8444"


def test_passwords_are_long_and_unambiguous() -> None:
    words = {new_password() for _ in range(50)}
    assert len(words) == 50
    for word in words:
        assert len(word.replace("-", "")) == 16 and not set(word) & set("01lo")


def test_accounts_round_trip(tmp_path: Path) -> None:
    state = HubState(tmp_path / "cls").ensure()
    accounts = Accounts("pw", {"a": Account("a", "a", "x", "ws-a")}, "fr", "http://h:8000/")
    state.write_accounts(accounts)
    assert state.read_accounts() == accounts
    assert oct(state.accounts_file.stat().st_mode & 0o777) == "0o600"
    assert oct(state.root.stat().st_mode & 0o777) == "0o700"


def test_generated_config_is_valid_python_and_names_what_matters(tmp_path: Path) -> None:
    state = HubState(tmp_path / "cls")
    text = render_config(state=state, cls="demo", ports=HubPorts("http://127.0.0.1:8000", 1, 2, 3), lang="fr",
                         dashboard_env={"INCUS_SOCKET": "/s"}, idle_minutes=45)
    compile(text, "jupyterhub_config.py", "exec")
    for needle in ("c.JupyterHub.spawner_class = WorkspaceSpawner", "c.WorkspaceSpawner.project = 'demo'",
                   "access:services!service=labkit", "hub_bind_url = 'http://127.0.0.1:1'", "jupyterhub_idle_culler",
                   "--timeout=2700", '"delete:servers"', "c.WorkspaceSpawner.lang_env = 'fr_FR.UTF-8'",
                   str(state.root / "jupyterhub.sqlite")):
        assert needle in text, needle
    assert "LocalProcessSpawner" not in text and "INCUS_CONF" not in text
    assert "ssl_cert" not in text.split("# State")[0].replace("# HTTPS", "")
    # A learner's JupyterLab opens on the class's lab (the first lab unless told).
    assert f"c.Spawner.default_url = '/lab/tree/{chapter_named(DEFAULT_LAB).notebook}.ipynb'" in text


@pytest.mark.parametrize("listen", ["8000", ":8000", "host:", "host:99999", "127.0.0.1:port"])
def test_bad_listen_addresses(listen: str) -> None:
    with pytest.raises(UsageError):
        parse_listen(listen)


def test_credentials_sheet_escapes_names_and_is_in_the_class_language() -> None:
    accounts = Accounts("ipw", {HOSTILE: Account(HOSTILE, "x", "p<w>", "ws-x")}, "fr", "http://h:8000/")
    cards = Cards("demo", accounts)
    page = sheet_html(cards, "fr")
    assert HOSTILE not in page and html.escape(HOSTILE) in page and "Mot de passe" in page
    assert [r["learner"] for r in as_json(cards)] == [HOSTILE, "instructor"]
    assert as_json(cards)[1]["url"].endswith("/services/labkit/")


def test_the_credentials_sheet_is_written_for_its_owner_alone_and_never_over_anything(tmp_path: Path) -> None:
    written = write_sheet(tmp_path / "cards.html", "<p>secret</p>")
    assert written == (tmp_path / "cards.html").resolve() and written.read_text() == "<p>secret</p>"
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(UsageError):  # an existing file is never overwritten
        write_sheet(written, "<p>again</p>")
    assert written.read_text() == "<p>secret</p>"
    root_only = tmp_path / "shadow"
    root_only.write_text("root's\n")
    (tmp_path / "planted.html").symlink_to(root_only)
    with pytest.raises(UsageError):  # nor through a link somebody planted at the chosen name
        write_sheet(tmp_path / "planted.html", "<p>secret</p>")
    assert root_only.read_text() == "root's\n"
    (tmp_path / "dangling.html").symlink_to(tmp_path / "made-by-the-link")
    with pytest.raises(UsageError):
        write_sheet(tmp_path / "dangling.html", "<p>secret</p>")
    assert not (tmp_path / "made-by-the-link").exists()
    os.chmod(tmp_path, 0o500)
    try:
        if os.geteuid() != 0:  # root writes anyway
            with pytest.raises(UsageError):
                write_sheet(tmp_path / "new.html", "x")
    finally:
        os.chmod(tmp_path, 0o700)


def test_dashboard_page_escapes_learner_names() -> None:
    latest = {"steps": ["snapshot"], "learners": [{"learner": HOSTILE, "score": {"earned": 1, "possible": 8},
                                                   "steps": [{"id": "snapshot", "status": "passed"}]}]}
    page = page_html("demo", "en", latest, 2, xsrf='"><script>')
    assert HOSTILE not in page and html.escape(HOSTILE) in page
    assert '"><script>' not in page
    assert "innerHTML" not in page  # the script redraws with textContent only


def test_the_instructors_card_is_on_a_page_of_its_own_with_its_own_words() -> None:
    accounts = Accounts("ipw-secret", {n: Account(n, f"lk-{n}", f"pw-{n}", "/h") for n in ("learner01", "learner02")},
                        "fr", "http://h:8000/")
    for lang, role, learner_note in (("fr", "Formateur ou formatrice", "votre notebook s’ouvre tout seul"),
                                     ("en", "Instructor", "your notebook opens by itself")):
        page = sheet_html(Cards("demo", accounts), lang)
        learners, _, own = page.partition('<div class="instructor">')
        assert "ipw-secret" not in learners and "pw-learner01" in learners and "pw-learner02" in learners
        assert "ipw-secret" in own and "services/labkit/" in own and "pw-learner01" not in own
        # Headed with the role in the class language, not the login; its own wording, not the learners'.
        assert f"<h2>{role}</h2>" in own and "<h2>instructor</h2>" not in page
        assert learner_note not in own and learner_note in learners
        assert "demo" in own.split("<p>")[1]
        # Printed apart: a page break before it.
        assert ".instructor { break-before: page; page-break-before: always;" in page
