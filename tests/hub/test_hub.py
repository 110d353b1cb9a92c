"""`labkit class serve` in Debian's chromium: three learners at once, each in their own
account and container, kept apart; the instructor's live dashboard; destroy leaves nothing.

One class of 3 for the whole module (creating and serving it is the slow part); the tests
run in order and the last one destroys it.
"""
from __future__ import annotations

import json
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, NotebookPage

from .conftest import ServedClass, served_class, submit_login, wait_notebook

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "en" / "snapshots.ipynb"


def cell_index(cell_id: str) -> int:
    return [c.get("id") for c in nbformat.read(NOTEBOOK, as_version=4).cells].index(cell_id)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedClass]:
    with served_class(tmp_path_factory.mktemp("hub-class")) as cls:
        yield cls


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def pages(hub: ServedClass, browser: Any) -> dict[str, Any]:
    """learner01..03 and the instructor, each in a browser context of their own, logged in at once."""
    creds = hub.credentials()
    pages = {}
    for who in ("learner01", "learner02", "learner03", "instructor"):
        context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
        context.set_default_timeout(60_000)
        pages[who] = context.new_page()
    for who, page in pages.items():  # every form is submitted before any server is ready
        submit_login(page, hub.url, creds[who]["login"], creds[who]["password"])
    return pages


def login_of(learner: str, hub: ServedClass) -> str:
    return next(u.pw_name for u in pwd.getpwall() if u.pw_gecos == f"labkit {hub.name} {learner}")


def test_three_learners_take_their_snapshot_at_once(hub: ServedClass, pages: dict[str, Any]) -> None:
    command_at, check_at = cell_index("snapshot-command"), cell_index("snapshot-check")
    notebooks = {who: wait_notebook(pages[who]) for who in ("learner01", "learner02", "learner03")}
    dashboard = pages["instructor"]
    dashboard.wait_for_url("**/services/labkit/")
    dashboard.wait_for_function("() => document.querySelectorAll('#grid tr[data-learner]').length === 3", timeout=60_000)
    # Nobody has done anything yet: not started (its own state), never a failure.
    assert set(snapshot_states(dashboard).values()) <= {"not_started", "todo"}
    dashboard.evaluate("() => { window.notReloaded = true; }")

    for who, nb in notebooks.items():
        cells = nb.cells()
        nb.select(cells.nth(0))
        nb.run_selected(times=command_at)
        nb.type_into(cells.nth(command_at), "incus snapshot create ubuntu-test ubuntu-test-1")
        nb.run_selected()
        assert nb.active_index() == check_at
        nb.run_selected()
        box = nb.boxes(cells.nth(check_at))
        assert box.count() == 1 and "labkit-passed" in box.get_attribute("class"), (who, box.text_content())
        assert nb.errors() == [], (who, nb.errors())
        # In their own container, in their own project.
        listed = subprocess.run(["incus", "snapshot", "list", "ubuntu-test", "--project", f"{hub.name}-{who}",
                                 "--format", "json"], capture_output=True, text=True, check=True)
        assert [s["name"] for s in json.loads(listed.stdout)] == ["ubuntu-test-1"]

    # The instructor's grid follows, without a reload.
    dashboard.wait_for_function(
        """() => [...document.querySelectorAll('#grid td[data-step="snapshot"]')].filter(
                 td => td.dataset.status === 'passed').length === 3""", timeout=60_000)
    assert dashboard.evaluate("() => window.notReloaded === true")
    assert snapshot_states(dashboard) == {"learner01": "passed", "learner02": "passed", "learner03": "passed"}
    status = dashboard.evaluate("""async () => (await fetch('status.json', {headers: {
        'X-XSRFToken': document.querySelector('meta[name=xsrf]').content}})).json()""")
    assert [row["learner"] for row in status["learners"]] == ["learner01", "learner02", "learner03"]


def snapshot_states(page: Any) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#grid tr[data-learner]')].map(
        tr => [tr.dataset.learner, tr.querySelector('td[data-step="snapshot"]').dataset.status]))""")


def test_a_learner_cannot_open_another_learners_server(hub: ServedClass, pages: dict[str, Any]) -> None:
    page = pages["learner02"]
    other = login_of("learner01", hub)
    response = page.goto(f"{hub.url}user/{other}/lab/tree/snapshots.ipynb")
    assert response.status == 403, (response.status, page.url)
    assert f"/user/{login_of('learner02', hub)}/" not in page.url
    api = page.goto(f"{hub.url}user/{other}/api/contents/snapshots.ipynb")
    assert api.status in (403, 404) and "cells" not in page.content()


def test_a_learner_cannot_open_the_dashboard(hub: ServedClass, pages: dict[str, Any]) -> None:
    response = pages["learner01"].goto(f"{hub.url}services/labkit/status.json")
    assert response.status == 403
    pages["learner01"].go_back()


def test_a_learners_terminal_cannot_read_another_learners_key(hub: ServedClass, pages: dict[str, Any]) -> None:
    page = pages["learner01"]
    page.goto(f"{hub.url}user/{login_of('learner01', hub)}/lab/tree/snapshots.ipynb")
    wait_notebook(page)
    home2 = Path(pwd.getpwnam(login_of("learner02", hub)).pw_dir)
    mine = Path(pwd.getpwnam(login_of("learner01", hub)).pw_dir)
    command = (f"cat {home2}/incus/client.key > ~/attempt.txt 2>&1; "
               "echo \"exit=$? uid=$(id -un) groups=$(id -Gn)\" >> ~/attempt.txt\n")
    # A terminal of learner 1's own JupyterLab, opened and typed into from their logged-in page, through
    # JupyterLab's terminal API and websocket (what its Terminal tab uses). Driving the tab itself raced
    # with JupyterLab bringing the notebook back to the front while restoring its workspace.
    page.evaluate("""async (command) => {
        const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
        const xsrf = decodeURIComponent((document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '');
        const made = await fetch(config.baseUrl + 'api/terminals', {method: 'POST', headers: {'X-XSRFToken': xsrf}});
        if (!made.ok) throw new Error('terminal not created: ' + made.status);
        const {name} = await made.json();
        const url = location.origin.replace(/^http/, 'ws') + config.baseUrl + 'terminals/websocket/' + name;
        await new Promise((resolve, reject) => {
            const ws = new WebSocket(url);
            ws.onopen = () => { ws.send(JSON.stringify(['stdin', command])); setTimeout(() => { ws.close(); resolve(); }, 3000); };
            ws.onerror = () => reject(new Error('terminal websocket refused'));
        });
    }""", command)
    attempt = mine / "attempt.txt"
    page.wait_for_function("() => true")
    for _ in range(100):
        if attempt.exists() and "exit=" in attempt.read_text():
            break
        page.wait_for_timeout(200)
    text = attempt.read_text()
    assert "Permission denied" in text and "exit=1" in text, text
    assert f"uid={login_of('learner01', hub)}" in text and "incus-admin" not in text, text
    assert "PRIVATE KEY" not in text
    # Their own key is theirs alone, and the daemon's admin socket is closed to them.
    assert oct(mine.joinpath("incus", "client.key").stat().st_mode & 0o777) == "0o600"
    denied = subprocess.run([shutil.which("runuser") or "/usr/sbin/runuser", "-u", login_of("learner01", hub), "--", "incus", "list", "--project", "default"],
                            capture_output=True, text=True, env={"HOME": str(mine), "PATH": "/usr/bin:/bin"})
    assert denied.returncode != 0 and "permission" in denied.stderr.lower(), denied.stderr


def test_destroy_leaves_nothing(hub: ServedClass, pages: dict[str, Any]) -> None:
    homes = [Path(pwd.getpwnam(login_of(n, hub)).pw_dir) for n in ("learner01", "learner02", "learner03")]
    hub_pid = hub.hub_pid()
    done = hub.destroy()
    assert done.returncode == 0, done.stderr
    assert "Unix accounts" in done.stderr, done.stderr
    assert not [u for u in pwd.getpwall() if u.pw_gecos.startswith(f"labkit {hub.name} ")]
    assert not any(h.exists() for h in homes) and not Path("/home/labkit", hub.name).exists()
    assert not Path(f"/proc/{hub_pid}").exists()
    assert hub.process is None or hub.process.wait(timeout=30) == 0
    projects = subprocess.run(["incus", "project", "list", "--format", "json"], capture_output=True, text=True, check=True)
    assert not [p for p in json.loads(projects.stdout) if p["name"].startswith(hub.name)]
    assert not hub.folder.exists()
