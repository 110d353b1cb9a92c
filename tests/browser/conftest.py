"""A real browser on a real JupyterLab: the harness of the browser tests and of
scripts/screenshots.py.

JupyterLab runs on a free loopback port with a random token, on a temporary copy of
`notebooks/`, with settings, workspaces, runtime and journal folders of its own, and is
stopped by its PID.  Debian's `chromium` is driven by Playwright for Python with a
fresh profile (never a browser downloaded by a test tool).  Without an Incus daemon or
chromium the tests skip, except in CI (CI=true), where they fail.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 900}
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
# JupyterLab settings a test server starts with: no news or update toasts (no network here).
SETTINGS = {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's chromium against a real JupyterLab")


# -- what the tests need ----------------------------------------------------------
def missing_requirements(*, incus: bool = True) -> list[str]:
    """Why the browser tests cannot run here (empty when they can)."""
    from labkit.incus.client import SYSTEM_SOCKET
    from labkit.provision.daemon import daemon_answers

    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python is missing: pip install playwright (no browser download needed)")
    if incus and not daemon_answers(SYSTEM_SOCKET):
        missing.append(f"no Incus daemon answers on {SYSTEM_SOCKET}: run `labkit setup` (or .ci/run) first")
    return missing


def require(*, incus: bool = True, notebook7: bool = False) -> None:
    missing = missing_requirements(incus=incus)
    if notebook7:
        try:
            import notebook  # noqa: F401
        except ImportError:
            missing.append("Jupyter Notebook 7 is missing: pip install 'notebook>=7.2'")
    fail_or_skip(missing)


def fail_or_skip(missing: list[str]) -> None:
    """What is missing fails the test in CI (never a silent skip there) and skips it elsewhere."""
    if not missing:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("; ".join(missing))
    pytest.skip("; ".join(missing))


# -- the JupyterLab server --------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server of our own on loopback, serving a copy of notebooks/."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None):
        self.workdir = workdir
        # Variables its kernels need too (a kernel inherits the server's environment), e.g. the
        # second lab's LABKIT_SNAPSHOT_SERVER_DIR and the learner's INCUS_CONF.
        self.extra_env = dict(env or {})
        self.root = workdir / "notebooks"
        self.token = secrets.token_urlsafe(24)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "jupyter.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def env(self) -> dict[str, str]:
        """Folders of our own: the learner's settings, kernels and journal stay untouched."""
        dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
                "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
                "IPYTHONDIR": "ipython", "XDG_STATE_HOME": "state"}
        return {**os.environ, **{k: str(self.workdir / v) for k, v in dirs.items()}, "PYTHONUNBUFFERED": "1",
                **self.extra_env}

    def start(self, timeout: float = 60) -> JupyterLab:
        shutil.copytree(ROOT / "notebooks", self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        for name, values in SETTINGS.items():
            path = self.workdir / "settings" / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        for attempt in range(3):  # the free port may be taken between our probe and the server's bind
            self.port = free_port()
            args = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                    "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                    "--ServerApp.open_browser=False", f"--notebook-dir={self.root}", "--allow-root",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
            with open(self.log, "ab") as log:
                self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                                env=self.env(), cwd=self.workdir)
            try:
                if self._wait_ready(timeout):
                    return self
            except BaseException:
                self.stop()
                raise
            self.stop()
        raise RuntimeError(f"JupyterLab did not start; its log:\n{self.log.read_text()[-3000:]}")

    def _wait_ready(self, timeout: float) -> bool:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if self.api("GET", "api/status").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        return False

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        return httpx.request(method, f"{self.base}/{path}", headers={"Authorization": f"token {self.token}"},
                             timeout=10, trust_env=False, **kwargs)

    def kernel_argv(self, name: str = "python3") -> list[str]:
        return self.api("GET", "api/kernelspecs").json()["kernelspecs"][name]["spec"]["argv"]

    def stop(self) -> None:
        """Shut down the kernels and the server we started, by its PID only."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            self.api("POST", "api/shutdown")
            process.wait(timeout=20)
        except Exception:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- notebooks prepared for a run -------------------------------------------------
def prepare(lab: JupyterLab, lang: str, name: str, *, notebook: str, **parameters: Any) -> str:
    """papermill --prepare-only on notebooks/<lang>/<notebook>.ipynb (a chapter's `notebook`):
    inject the parameters, run nothing; return the path in JupyterLab of the copy named `name`."""
    import papermill

    target = f"{lang}/{name}.ipynb"
    papermill.execute_notebook(str(lab.root / lang / f"{notebook}.ipynb"), str(lab.root / target),
                               parameters=parameters, prepare_only=True, kernel_name="python3",
                               progress_bar=False, log_output=False)
    return target


# -- the browser ------------------------------------------------------------------
@contextmanager
def chromium(profile: Path | None = None, *, locale: str = "en-GB", scale: float = 1) -> Iterator[Any]:
    """A Playwright context on Debian's chromium, with a fresh profile."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="labkit-chromium-") as fresh, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile or fresh), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport=VIEWPORT, locale=locale, device_scale_factor=scale)
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


# The WCAG contrast ratio of every piece of text in labkit's boxes against what is
# really behind it (the first opaque background up the tree), computed in the page.
CONTRAST_JS = """
(selector) => {
  const rgba = (s) => { const m = s.match(/[\\d.]+/g).map(Number);
                        return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255;
                                                  return c <= 0.03928 ? c / 12.92
                                                                      : Math.pow((c + 0.055) / 1.055, 2.4); };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (; el; el = el.parentElement) { const c = rgba(getComputedStyle(el).backgroundColor);
                                 if (c[3] > 0.99) return c; } return [255, 255, 255, 1]; };
  const found = [];
  for (const box of document.querySelectorAll(selector)) {
    for (const el of [box, ...box.querySelectorAll('*')]) {
      const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
      if (!text) continue;
      const fg = rgba(getComputedStyle(el).color), bg = background(el);
      const mixed = fg.slice(0, 3).map((c, i) => c * fg[3] + bg[i] * (1 - fg[3]));
      const [a, b] = [lum(mixed), lum(bg)].sort((x, y) => y - x);
      found.push({text: text.slice(0, 60), ratio: (a + 0.05) / (b + 0.05), color: getComputedStyle(el).color,
                  background: `rgb(${bg.slice(0, 3).join(',')})`});
    }
  }
  return found;
}
"""


class NotebookPage:
    """A notebook open in JupyterLab, driven as a learner would: menus, clicks, keys."""

    def __init__(self, page: Any, lab: JupyterLab | None):
        self.page = page
        self.lab = lab

    # opening
    def open(self, path: str, workspace: str) -> NotebookPage:
        self.page.goto(self.lab.url(f"lab/workspaces/{workspace}/tree/{path}"))
        self.page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="visible", timeout=60_000)
        # The kernel starts by itself from the notebook's metadata; a kernel picker would be a dialog.
        self.page.wait_for_function(
            """() => document.querySelector('.jp-Dialog') !== null || [...document.querySelectorAll('.jp-KernelName')]
                       .some(k => k.textContent.trim() && !/No Kernel/.test(k.textContent))""", timeout=60_000)
        self.wait_idle(timeout=60)
        return self

    @property
    def panel(self) -> Any:
        return self.page.locator(".jp-NotebookPanel:visible")

    def kernel_name(self) -> str:
        # One notebook per page; in a narrow window the toolbar item may sit in its overflow menu.
        return self.page.locator(".jp-KernelName").first.text_content().strip()

    def dialogs(self) -> int:
        return self.page.locator(".jp-Dialog").count()

    def wait_idle(self, timeout: float = 120) -> None:
        """Until the kernel is idle and no cell is queued or running (one notebook per page)."""
        self.page.wait_for_function(
            """() => {
                 const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
                 const busy = [...document.querySelectorAll('.jp-InputArea-prompt')]
                   .some(p => p.textContent.includes('*'));
                 return status !== null && status.getAttribute('data-status') === 'idle' && !busy;
               }""", timeout=timeout * 1000)

    # menus and keys
    def menu(self, *path: str) -> None:
        """Open a menu of JupyterLab's menu bar and follow its items by their labels,
        e.g. menu("Run", "Run All Cells") or menu("Settings", "Theme", "JupyterLab Dark")."""
        self.page.locator(".lm-MenuBar-item", has=self.page.get_by_text(path[0], exact=True)).first.click()
        for n, label in enumerate(path[1:], 2):
            item = self.page.locator(".lm-Menu-item:visible").filter(
                has=self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}$"))).first
            item.hover() if n < len(path) else item.click()

    def cells(self) -> Any:
        return self.panel.locator(".jp-Cell")

    def select(self, cell: Any) -> None:
        """Select a cell in command mode, as a click in its margin does."""
        cell.locator(".jp-InputPrompt").first.click()
        self.page.keyboard.press("Escape")

    def run_selected(self, times: int = 1) -> None:
        """Shift+Enter, `times` times from the selected cell: each runs and moves to the next."""
        start = self.active_index()
        for _ in range(times):
            self.page.keyboard.press("Shift+Enter")
        self._wait_ran(start, start + times)

    def run_cell(self, cell: Any) -> None:
        """Select a cell and run it with Ctrl+Enter (the selection stays on it)."""
        self.select(cell)
        index = self.active_index()
        before = cell.locator(".jp-InputPrompt").first.text_content()
        self.page.keyboard.press("Control+Enter")
        self._wait_ran(index, index + 1, before)

    def _wait_ran(self, start: int, stop: int, before: str = "") -> None:
        """Until every visible code cell in [start, stop) shows a new execution count, then idle."""
        self.page.wait_for_function(
            """([start, stop, before]) => {
                 const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')]
                   .slice(start, stop);
                 return cells.every(c => { const p = c.querySelector('.jp-InputPrompt');
                   const text = p ? p.textContent.trim() : '';
                   return !c.classList.contains('jp-CodeCell') || !text
                     || (/\\[\\d+\\]/.test(text) && text !== before); });
               }""", arg=[start, stop, before.strip()], timeout=120_000)
        self.wait_idle()

    def type_into(self, cell: Any, text: str) -> None:
        """Click into the cell's editor and type at its end, on a new line if it has text."""
        editor = cell.locator(".cm-content")
        filled = editor.text_content().strip() != ""
        editor.click()
        self.page.keyboard.press("Control+End")
        if filled:
            self.page.keyboard.press("Enter")
        self.page.keyboard.type(text)

    def hide_sidebar(self) -> None:
        if self.page.locator("#jp-left-stack:visible").count():
            self.menu("View", "Appearance", "Show Left Sidebar")
            self.page.locator("#jp-left-stack").wait_for(state="hidden")

    def shot(self, path: Path, *cells: Any, pad: int = 8) -> None:
        """A screenshot of these cells (inputs and outputs), cropped to them."""
        cells[0].evaluate("el => el.scrollIntoView({block: 'start'})")
        self.page.wait_for_timeout(300)
        boxes = [c.bounding_box() for c in cells]
        x, y = min(b["x"] for b in boxes) - pad, min(b["y"] for b in boxes) - pad
        right, bottom = max(b["x"] + b["width"] for b in boxes) + pad, max(b["y"] + b["height"] for b in boxes) + pad
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.mouse.move(0, 0)  # no hover toolbar in the picture
        self.page.screenshot(path=str(path), clip={"x": x, "y": y, "width": right - x, "height": bottom - y})

    def active_index(self) -> int:
        return self.page.evaluate(
            """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')]
                      .findIndex(c => c.classList.contains('jp-mod-active'))""")

    # results
    def boxes(self, scope: Any = None) -> Any:
        return (scope or self.panel).locator(".labkit-result")

    def errors(self) -> list[str]:
        """Tracebacks and stderr outputs shown anywhere in the notebook."""
        found = self.panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
                                   " .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error'], "
                                   ".labkit-error")
        return [found.nth(i).text_content() for i in range(found.count())]

    def contrast(self, selector: str = ".labkit-result, .labkit-summary, .labkit-hint, .labkit-error") -> list[dict]:
        return self.page.evaluate(CONTRAST_JS, selector)

    def theme(self, name: str) -> None:
        """Settings → Theme → <name>, from the menu; waits until the page has switched."""
        self.menu("Settings", "Theme", THEMES[name])
        # Until the theme's CSS is in: the notebook's own background is light or dark.
        self.page.wait_for_function(
            """(dark) => { const panel = document.querySelector('.jp-NotebookPanel-notebook');
                           const [r, g, b] = getComputedStyle(panel).backgroundColor.match(/\\d+/g).map(Number);
                           return document.body.dataset.jpThemeLight === String(!dark)
                             && (r + g + b < 200) === dark; }""",
            arg=name == "dark")
        self.page.wait_for_timeout(300)


# -- fixtures ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """One JupyterLab server for the session; its python3 kernel must run this interpreter."""
    require(incus=False)
    server = JupyterLab(tmp_path_factory.mktemp("jupyterlab"))
    with server:
        assert_kernel_is_ours(server)
        yield server


def assert_kernel_is_ours(server: JupyterLab) -> None:
    """The server's python3 kernel must run this interpreter, where labkit is installed."""
    argv0 = server.kernel_argv()[0]
    here = os.path.dirname(os.path.abspath(sys.executable))
    assert argv0 in ("python", "python3") or os.path.dirname(os.path.abspath(argv0)) == here, (
        f"the python3 kernel runs {argv0}, not the Python of {here}: "
        f"run `{sys.executable} -m ipykernel install --sys-prefix --name python3`")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Debian's chromium with a fresh profile, for one test."""
    require(incus=False)
    with chromium(tmp_path / "chromium-profile") as context:
        yield context


@pytest.fixture
def fresh_instance() -> Iterator[str]:
    require(incus=True)
    with instance() as name:
        yield name


@contextmanager
def instance(prefix: str = "lk-br") -> Iterator[str]:
    """A freshly launched, booted instance of our own, deleted afterwards even on failure."""
    from labkit.incus.instances import wait_until_booted
    from tests.integration.conftest import delete_instance, incus, test_image, unique

    name = unique(prefix)
    try:
        incus("launch", test_image(), name)
        if not wait_until_booted(name):
            log = incus("console", name, "--show-log", check=False).stdout[-1500:]
            raise AssertionError(f"{name} did not finish booting; its console:\n{log}")
        yield name
    finally:
        delete_instance(name)
