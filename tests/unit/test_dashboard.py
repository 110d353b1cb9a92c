"""The dashboard service without a hub: its real Tornado app and JupyterHub's real HubOAuth,
with only the hub's answer about a token replaced (which user a cookie's token names).

The reset button's POST must carry the XSRF token the page was given (JupyterHub ≥ 4.1 checks
it on cookie-authenticated fetches), and only the instructor (or an admin) may reset; the
page and status.json show the steps' titles, not-started learners, the step each learner is
on, for how long, stuck or not, and what fails there, escaped.
"""
from __future__ import annotations

import asyncio
import html
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from jupyterhub.services.auth import HubOAuth
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import create_signed_value

from labkit.classroom.report import status_json
from labkit.hub import dashboard
from labkit.hub.dashboard_page import page_html

from .test_class import fake_class, fake_client

SCOPE = "access:services!service=labkit"
# Even with the hub's access scope, a learner is not the instructor.
USERS = {"tok-instructor": {"kind": "user", "name": "instructor", "admin": False, "groups": [], "scopes": [SCOPE]},
         "tok-learner": {"kind": "user", "name": "learner01", "admin": False, "groups": [], "scopes": [SCOPE]}}
HOSTILE = '<img src=x onerror="alert(1)">&'


class HubAnswers(HubOAuth):
    """HubOAuth as the service runs it; the hub's API answer about a token comes from USERS."""

    def user_for_token(self, token, use_cache=True, session_id="", *, sync=True):
        model = USERS.get(token)
        if sync:
            return model

        async def later() -> dict | None:
            return model
        return later()


@contextmanager
def served(grading: dashboard.Grading) -> Iterator[tuple[str, bytes]]:
    app = dashboard.make_app(grading)
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    loops: list[IOLoop] = []
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        HTTPServer(app).add_sockets(sockets)
        loops.append(IOLoop.current())
        ready.set()
        IOLoop.current().start()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port}/services/labkit/", app.settings["cookie_secret"]
    finally:
        loops[0].add_callback(loops[0].stop)


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    auth = HubAnswers(oauth_client_id="service-labkit", access_scopes={SCOPE}, base_url="/services/labkit/",
                      api_token="unused", api_url="http://127.0.0.1:9/hub/api")
    monkeypatch.setattr(dashboard.InstructorOnly, "_hub_auth", auth)
    monkeypatch.setattr(dashboard.HubOAuthCallbackHandler, "_hub_auth", auth, raising=False)
    handler, _ = fake_class({"alice": "wrong_snapshot_name", "carol": "fresh"})
    from labkit.classroom.status import class_status

    grading = dashboard.Grading("demo", tmp_path, "fr")
    grading.show(class_status(client=fake_client(handler), name="demo", folder=tmp_path))
    resets: list[tuple[str, str]] = []

    def reset(learner: str, by: str) -> dict[str, Any]:
        resets.append((learner, by))
        return {"learner": learner, "by": by}
    monkeypatch.setattr(grading, "reset", reset)
    with served(grading) as (url, secret):
        yield url, secret, resets, grading


def browser(url: str, secret: bytes, token: str) -> httpx.Client:
    """A browser after the hub's OAuth: the service's signed cookie holding the user's token."""
    client = httpx.Client(base_url=url, timeout=10)
    client.cookies.set("service-labkit", create_signed_value(secret, "service-labkit", token).decode(),
                       path="/services/labkit/")
    return client


def fetch_headers(**extra: str) -> dict[str, str]:
    """What a browser's fetch() from the page sends (not a navigation: XSRF applies)."""
    return {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json", **extra}


def test_the_reset_post_needs_the_pages_xsrf_token_and_the_instructor(service) -> None:
    url, secret, resets, _ = service
    with browser(url, secret, "tok-instructor") as instructor:
        page = instructor.get("", headers={"Sec-Fetch-Mode": "navigate"})
        assert page.status_code == 200, page.text
        xsrf = html.unescape(re.search(r'<meta name="xsrf" content="([^"]*)"', page.text).group(1))
        assert xsrf
        # No token, or another one: refused, nothing reset.
        assert instructor.post("reset", json={"learner": "alice"}, headers=fetch_headers()).status_code == 403
        assert instructor.post("reset", json={"learner": "alice"},
                               headers=fetch_headers(**{"X-XSRFToken": xsrf[:-2] + "xx"})).status_code == 403
        assert resets == []
        done = instructor.post("reset", json={"learner": "alice"}, headers=fetch_headers(**{"X-XSRFToken": xsrf}))
        assert done.status_code == 200, done.text
        assert resets == [("alice", "instructor")] and "alice" in done.json()["message"]
        bad = instructor.post("reset", content=b"not json", headers=fetch_headers(**{"X-XSRFToken": xsrf}))
        assert bad.status_code == 400 and len(resets) == 1
    # A learner, even token-authenticated (no XSRF involved), is not the instructor.
    with httpx.Client(base_url=url, timeout=10) as learner:
        denied = learner.post("reset", json={"learner": "alice"}, headers={"Authorization": "token tok-learner"})
        assert denied.status_code == 403 and len(resets) == 1
        assert learner.get("status.json", headers={"Authorization": "token tok-learner"}).status_code == 403
    with browser(url, secret, "tok-learner") as learner:
        assert learner.post("reset", json={"learner": "alice"},
                            headers=fetch_headers(**{"X-XSRFToken": xsrf})).status_code == 403
    assert resets == [("alice", "instructor")]


def test_status_json_and_page_show_titles_states_and_what_fails(service) -> None:
    url, secret, _, _ = service
    with browser(url, secret, "tok-instructor") as instructor:
        data = instructor.get("status.json", headers={"Sec-Fetch-Mode": "navigate"}).json()
        page = instructor.get("", headers={"Sec-Fetch-Mode": "navigate"}).text
    assert data["step_titles"][1] == "Prendre un instantané" and data["steps"][1] == "snapshot"  # ids kept
    by = {ls["learner"]: ls for ls in data["learners"]}
    assert by["carol"]["not_started"] and not by["alice"]["not_started"]
    assert by["alice"]["current"]["step"] == "snapshot"
    assert by["alice"]["last_failure"]["diagnosis"] == "wrong_snapshot_name"
    assert "<th>2. Prendre un instantané</th>" in page and "<th>snapshot</th>" not in page
    assert 'data-step="snapshot" data-status="not_started">○</td>' in page
    assert "pas commencé" in page and "Réinitialiser" in page and 'id="stuck-minutes"' in page


def test_the_page_escapes_what_a_learner_names(tmp_path: Path) -> None:
    handler, _ = fake_class({"alice": "wrong_snapshot_name"})
    from labkit.classroom.status import class_status

    data = status_json(class_status(client=fake_client(handler), name="demo", folder=tmp_path), "en")
    data["learners"][0]["learner"] = HOSTILE
    data["learners"][0]["last_failure"]["message"] = HOSTILE
    data["learners"][0]["current"] |= {"stuck": True, "seconds": 725}
    page = page_html("demo", "en", data, 2, xsrf="x")
    assert HOSTILE not in page and page.count(html.escape(HOSTILE)) == 4  # row, name, button, message
    assert '<tr data-learner="' in page and ' class="stuck"' in page and "12\u00a0min 05\u00a0s ⚠ stuck" in page
    assert "innerHTML" not in page
