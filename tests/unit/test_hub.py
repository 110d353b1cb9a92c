"""The hub's pure parts: account names, the generated configuration, escaping in the
credentials sheet and the dashboard page, the accounts file's round trip."""
from __future__ import annotations

import html
from pathlib import Path

import pytest

from labkit.hub.accounts import comment, unix_login
from labkit.hub.config import HubPorts, render_config
from labkit.labs import DEFAULT_LAB, chapter_named
from labkit.hub.credentials import Cards, as_json, sheet_html
from labkit.hub.dashboard_page import page_html
from labkit.hub.serve import parse_listen
from labkit.hub.state import Account, Accounts, HubState, new_password
from labkit.errors import UsageError

HOSTILE = '<img src=x onerror="alert(1)">&'


def test_unix_logins_fit_in_32_characters_and_stay_distinct() -> None:
    assert unix_login("demo", "learner01") == "lk-demo-learner01"
    assert unix_login("Demo", "Marie.Dupont") == "lk-demo-marie-dupont"
    long_a, long_b = unix_login("a" * 30, "b" * 32), unix_login("a" * 30, "b" * 31 + "c")
    assert len(long_a) <= 32 and len(long_b) <= 32 and long_a != long_b
    assert ":" not in comment("demo", "learner01")  # useradd refuses colons in comments
    assert comment("demo", "x").startswith(comment("demo")) and not comment("demo2", "x").startswith(comment("demo"))


def test_passwords_are_long_and_unambiguous() -> None:
    words = {new_password() for _ in range(50)}
    assert len(words) == 50
    for word in words:
        assert len(word.replace("-", "")) == 16 and not set(word) & set("01lo")


def test_accounts_round_trip(tmp_path: Path) -> None:
    state = HubState(tmp_path / "cls").ensure()
    accounts = Accounts("pw", {"a": Account("a", "lk-c-a", "x", "/home/labkit/c/a")}, "fr", "http://h:8000/")
    state.write_accounts(accounts)
    assert state.read_accounts() == accounts
    assert oct(state.accounts_file.stat().st_mode & 0o777) == "0o600"
    assert oct(state.root.stat().st_mode & 0o777) == "0o700"


def test_generated_config_is_valid_python_and_names_what_matters(tmp_path: Path) -> None:
    state = HubState(tmp_path / "cls")
    text = render_config(state=state, cls="demo", ports=HubPorts("http://127.0.0.1:8000", 1, 2, 3),
                         runtime_bin=Path("/opt/labkit/hub-runtime/bin"), lang="fr", dashboard_env={"INCUS_SOCKET": "/s"})
    compile(text, "jupyterhub_config.py", "exec")
    for needle in ("LocalProcessSpawner", "/opt/labkit/hub-runtime/bin/jupyterhub-singleuser", "access:services!service=labkit",
                   "hub_bind_url = 'http://127.0.0.1:1'", str(state.root / "jupyterhub.sqlite"), "INCUS_CONF"):
        assert needle in text, needle
    assert "ssl_cert" not in text.split("# State")[0].replace("# HTTPS", "")
    # A learner's JupyterLab opens on the class's lab (the first lab unless told).
    assert f"c.Spawner.default_url = '/lab/tree/{chapter_named(DEFAULT_LAB).notebook}.ipynb'" in text


@pytest.mark.parametrize("listen", ["8000", ":8000", "host:", "host:99999", "127.0.0.1:port"])
def test_bad_listen_addresses(listen: str) -> None:
    with pytest.raises(UsageError):
        parse_listen(listen)


def test_credentials_sheet_escapes_names_and_is_in_the_class_language() -> None:
    accounts = Accounts("ipw", {HOSTILE: Account(HOSTILE, "lk-x", "p<w>", "/h")}, "fr", "http://h:8000/")
    cards = Cards("demo", accounts)
    page = sheet_html(cards, "fr")
    assert HOSTILE not in page and html.escape(HOSTILE) in page and "Mot de passe" in page
    assert [r["learner"] for r in as_json(cards)] == [HOSTILE, "instructor"]
    assert as_json(cards)[1]["url"].endswith("/services/labkit/")


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
