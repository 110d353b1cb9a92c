"""A class served by a real JupyterHub (`labkit class serve`), for the hub's browser tests
and scripts/hub_screenshots.py.

The class gets a unique name, its own folder, a free loopback port; `serve` runs as a
child in its own process group, stopped by its PID; `class destroy --yes` removes the
projects and the learners' workspaces even when a test failed.  Without root, Incus or
chromium the tests skip, except in CI (CI=true), where they fail.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.browser.conftest import NotebookPage, fail_or_skip, free_port, missing_requirements
from tests.integration.conftest import unique

ROOT = Path(__file__).resolve().parents[2]


def require_hub() -> None:
    missing = missing_requirements(incus=True)
    if os.geteuid() != 0:
        missing.append("the hub tests serve a class (workspace containers, a runtime in /opt/labkit): run them as root")
    fail_or_skip(missing)


def labkit(*args: str, folder: Path, lang: str = "en", timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labkit", "--lang", lang, "class", "--dir", str(folder), *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@dataclass
class ServedClass:
    name: str
    root: Path  # --dir
    port: int
    lang: str = "en"  # the class language, given at create and serve
    process: subprocess.Popen | None = None
    lines: queue.Queue = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def folder(self) -> Path:
        return self.root / self.name

    def credentials(self) -> dict[str, dict[str, str]]:
        done = labkit("credentials", self.name, "--json", folder=self.root)
        assert done.returncode == 0, done.stderr
        return {row["learner"]: row for row in json.loads(done.stdout)}

    def serve(self, timeout: float = 600) -> ServedClass:
        """Start `labkit class serve` and wait for the line that gives its URL."""
        self.lines, self.output = queue.Queue(), []  # what an earlier serve said is not this one's
        self.process = subprocess.Popen(
            [sys.executable, "-m", "labkit", "--lang", self.lang, "class", "--dir", str(self.root), "serve", self.name,
             "--listen", f"127.0.0.1:{self.port}"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, cwd=ROOT, start_new_session=True)
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"serve ended before it was ready:\n{''.join(self.output)}")
            if "is served at" in line or "est servie" in line:
                return self
        raise AssertionError(f"serve not ready in {timeout} s:\n{''.join(self.output)}")

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait()

    def hub_pid(self) -> int:
        return int((self.folder / "hub" / "serve.pid").read_text().split()[1])

    def destroy(self) -> subprocess.CompletedProcess[str]:
        return labkit("destroy", self.name, "--yes", folder=self.root)


@contextmanager
def served_class(tmp: Path, learners: int = 3, prefix: str = "lkh", workspace: str | None = None,
                 lang: str = "en") -> Iterator[ServedClass]:
    require_hub()
    cls = ServedClass(unique(prefix), tmp, free_port(), lang)
    try:
        done = labkit("create", cls.name, "--learners", str(learners),
                      *(["--workspace", workspace] if workspace else []), folder=tmp, lang=lang, timeout=900)
        assert done.returncode == 0, done.stderr
        yield cls.serve()
    finally:
        cls.stop()
        cls.destroy()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, driven by Playwright, for one module's pages."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


# -- a browser's side -------------------------------------------------------------
def submit_login(page: Any, base: str, login: str, password: str) -> None:
    """Fill the hub's login form and submit it, without waiting for where it leads."""
    page.goto(base + "hub/login")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", password)
    page.click("#login_submit", no_wait_after=True)


def wait_notebook(page: Any, timeout: float = 180) -> NotebookPage:
    """Until the learner's notebook is open, its kernel started and idle."""
    page.wait_for_url("**/lab/tree/snapshots.ipynb", timeout=timeout * 1000)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="visible", timeout=timeout * 1000)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-KernelName')]
                   .some(k => k.textContent.trim() && !/No Kernel/.test(k.textContent))""",
        timeout=timeout * 1000)
    nb = NotebookPage(page, None)
    nb.wait_idle(timeout=timeout)
    return nb


def in_workspace(cls: ServedClass, learner: str, command: str,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A command in a learner's workspace, as the learner, with their JupyterLab's environment."""
    env = ["--env", "HOME=/home/learner", "--env", "INCUS_CONF=/home/learner/.config/incus",
           "--env", "PATH=/opt/labkit/hub-runtime/bin:/usr/bin:/bin"]
    return subprocess.run(["incus", "exec", f"ws-{learner}", "--project", cls.name, "--user", "1000", "--group", "1000",
                           "--cwd", "/home/learner", *env, "--", "sh", "-c", command],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def terminal(page: Any, command: str, until: str, timeout: float = 60) -> str:
    """Type `command` in a new terminal of the learner's JupyterLab (opened through its terminal API and
    websocket from their logged-in page, as the Terminal tab does) and return what it printed, once
    `until` appeared in it: write the command so that its echo does not hold `until` (`echo "==""END"`)."""
    return page.evaluate("""async ([command, until, timeout]) => {
        const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
        const xsrf = decodeURIComponent((document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '');
        const made = await fetch(config.baseUrl + 'api/terminals', {method: 'POST', headers: {'X-XSRFToken': xsrf}});
        if (!made.ok) throw new Error('terminal not created: ' + made.status);
        const {name} = await made.json();
        const url = location.origin.replace(/^http/, 'ws') + config.baseUrl + 'terminals/websocket/' + name;
        return await new Promise((resolve, reject) => {
            const ws = new WebSocket(url);
            let seen = '';
            const timer = setTimeout(() => { ws.close(); reject(new Error('terminal said only: ' + seen)); },
                                     timeout * 1000);
            ws.onopen = () => ws.send(JSON.stringify(['stdin', command + String.fromCharCode(13)]));
            ws.onmessage = (event) => {
                const [kind, text] = JSON.parse(event.data);
                if (kind !== 'stdout') return;
                seen += text;
                if (seen.includes(until)) { clearTimeout(timer); ws.close(); resolve(seen); }
            };
            ws.onerror = () => reject(new Error('terminal websocket refused'));
        });
    }""", [command, until, timeout])
