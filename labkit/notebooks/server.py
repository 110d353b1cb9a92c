"""`labkit lab`: JupyterLab opened on the notebook in the learner's language, ready to use.

`jupyter lab` alone refuses to run as root, buries its token in its log, and tells a
learner on a server without a desktop neither which address to open nor how to reach
it from a laptop.  So we choose the port and the token ourselves (the token goes in
through the environment, never on a command line `ps` shows), wait until the server
answers on /api, and only then print one line with the URL, plus the `ssh -L` command
when there is no display.  JupyterLab runs in a process group of its own: the
terminal's Ctrl+C reaches us alone and we stop it, kernels included; the Incus
instance is never touched.
"""
from __future__ import annotations

import errno
import functools
import getpass
import importlib.util
import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabServerError, UsageError
from ..i18n import M, Message
from ..paths import state_dir

DEFAULT_LISTEN = "127.0.0.1:8888"
PORTS_TO_TRY = 20  # from the asked port upwards, like JupyterLab's own port_retries
READY_SECONDS = 120.0  # a cold first start on a loaded 2-core machine takes about 10 s
STOP_SECONDS = 20.0
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name: it may resolve anywhere

    @property
    def local_host(self) -> str:
        """Where this machine itself reaches the server (a wildcard is reached on loopback)."""
        return _WILDCARDS.get(self.host, self.host)

    def url_host(self, host: str | None = None) -> str:
        host = host or self.local_host
        return f"[{host}]" if ":" in host else host

    def __str__(self) -> str:
        return f"{self.url_host(self.host)}:{self.port}"


def parse_listen(text: str) -> Listen:
    """`ADDR:PORT`, `[IPv6]:PORT`, or a bare `PORT` (on 127.0.0.1)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text.strip()
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(M(
            "lab_server.bad_listen",
            "“{listen}” is not an address to listen on: write ADDR:PORT, for example 127.0.0.1:8888 "
            "or 0.0.0.0:8888.", listen=text,
        ))
    return Listen(host, int(port))


def headless(env: Mapping[str, str]) -> bool:
    """No browser can open here: no graphical display, or we were reached over SSH."""
    over_ssh = bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))
    return over_ssh or not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def ssh_command(listen: Listen, env: Mapping[str, str], user: str, hostname: str) -> str:
    """The tunnel a laptop opens so that the same URL works there.

    The server address the learner's SSH session came in on (third field of
    SSH_CONNECTION) is the one their laptop can reach; otherwise this machine's name."""
    fields = env.get("SSH_CONNECTION", "").split()
    server = fields[2] if len(fields) == 4 else hostname
    server = f"[{server}]" if ":" in server else server
    target = listen.url_host()
    return f"ssh -L {listen.port}:{target}:{listen.port} {user}@{server}"


def public_host(listen: Listen, env: Mapping[str, str]) -> str:
    """The host to put in the printed URL: loopback stays loopback (through `ssh -L` on a
    laptop); listening on every address, the one an SSH session came in on, else this machine's name."""
    if listen.loopback or listen.host not in _WILDCARDS:
        return listen.local_host
    fields = env.get("SSH_CONNECTION", "").split()
    return fields[2] if len(fields) == 4 else socket.gethostname()


def find_free_port(listen: Listen, tries: int = PORTS_TO_TRY) -> int:
    """The asked port if free, else the next free one above it."""
    ports = [listen.port] if listen.port == 0 else range(listen.port, min(listen.port + tries, 65536))
    for port in ports:
        family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # Tornado sets SO_REUSEADDR too: a port in TIME_WAIT is free for JupyterLab.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((listen.host, port))
                return probe.getsockname()[1]
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise LabServerError(M(
                        "lab_server.cannot_listen",
                        "JupyterLab cannot listen on {address}: {detail}. Pass --listen with an address "
                        "of this machine, for example 127.0.0.1:8888.",
                        address=str(listen), detail=exc.strerror or str(exc),
                    )) from exc
    last = ports[-1]
    raise LabServerError(M(
        "lab_server.ports_taken",
        "Ports {first} to {last} are all taken on {host}. Stop what uses them, or pass --listen ADDR:PORT "
        "with a free port.", first=listen.port, last=last, host=listen.host,
    ))


def require_jupyterlab() -> None:
    """A partial install (no JupyterLab in this environment) is one clear line, not a traceback."""
    if importlib.util.find_spec("jupyterlab") is None:
        raise LabServerError(M(
            "lab_server.no_jupyterlab",
            "JupyterLab is not installed in this environment ({python}): run “make venv”, or "
            "“{python} -m pip install -r requirements.txt”, then try again.", python=sys.executable,
        ))


def notebook_path(root: Path, lang: str, notebook: str) -> str:
    """The notebook to open (a chapter's `notebook` name), relative to JupyterLab's root folder."""
    relative = f"{lang}/{notebook}.ipynb"
    if not (root / relative).is_file():
        raise UsageError(M(
            "lab_server.no_notebook",
            "{path} is missing: run this command from a labkit checkout (where notebooks/ is), or pass --root.",
            path=str(root / relative),
        ))
    return relative


def jupyter_argv(listen: Listen, root: Path, notebook: str, *, as_root: bool) -> list[str]:
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.ip={listen.host}", f"--ServerApp.port={listen.port}",
            "--ServerApp.port_retries=0", "--ServerApp.open_browser=False", f"--ServerApp.root_dir={root}",
            f"--ServerApp.default_url=/lab/tree/{notebook}"]
    return [*argv, "--allow-root"] if as_root else argv


# JupyterLab's own menus in the lab's language (its French language pack is a requirement): a settings
# folder per language, whose translation setting is written once and is the learner's afterwards.
LAB_LOCALES = {"fr": "fr_FR", "en": "en"}
TRANSLATION_SETTING = Path("@jupyterlab", "translation-extension", "plugin.jupyterlab-settings")


def lab_settings(env: Mapping[str, str], lang: str) -> Path:
    folder = state_dir(env) / "jupyterlab-settings" / lang
    setting = folder / TRANSLATION_SETTING
    if not setting.exists():
        setting.parent.mkdir(parents=True, exist_ok=True)
        setting.write_text(json.dumps({"locale": LAB_LOCALES.get(lang, "en")}) + "\n", encoding="utf-8")
    return folder


def log_path(env: Mapping[str, str]) -> Path:
    return state_dir(env) / "jupyterlab.log"


def answers(url: str) -> bool:
    # No proxy: a learner's http_proxy must not intercept a loopback request.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class JupyterLabProcess:
    """One JupyterLab server we started, in its own process group, stopped by that group."""

    def __init__(self, argv: list[str], env: Mapping[str, str], log: Path):
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                            env=dict(env), process_group=0)

    def wait_ready(self, api_url: str, timeout: float = READY_SECONDS) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if answers(api_url):
                return True
            time.sleep(0.25)
        return False

    def stop(self) -> None:
        """SIGTERM to the group: jupyter_server shuts its kernels down and exits."""
        if self.process.poll() is not None:
            return
        for sig, seconds in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=seconds)
                return
            except subprocess.TimeoutExpired:
                continue


def run_lab(*, root: Path, lang: str, notebook: str, listen_text: str, open_browser: bool, container: str,
            say: Callable[[Message, bool], None], env: Mapping[str, str] | None = None) -> int:
    """Start JupyterLab on `notebook`, print where to open it, serve until interrupted (KeyboardInterrupt:
    the caller turns SIGTERM and SIGHUP into one, cli/signals.py); return the exit code."""
    env = dict(os.environ if env is None else env)
    require_jupyterlab()
    root = root.resolve()
    notebook = notebook_path(root, lang, notebook)
    asked = parse_listen(listen_text)
    as_root = os.geteuid() == 0
    if as_root:
        say(M("lab_server.allow_root", "Running as root: JupyterLab is started with --allow-root."), True)
    if not asked.loopback:
        say(M("lab_server.exposed",
              "Warning: JupyterLab listens on {address}, where other machines can reach it. Its token is then "
              "the only protection (whoever has the URL gets a terminal on this machine): keep it to yourself.",
              address=str(asked)), True)
    log = log_path(env)
    token = secrets.token_urlsafe(32)
    started: list[JupyterLabProcess] = []
    try:
        argv = functools.partial(jupyter_argv, root=root, notebook=notebook, as_root=as_root)
        settings = {"JUPYTERLAB_SETTINGS_DIR": str(lab_settings(env, lang))}
        listen = _start(asked, argv, {**env, "JUPYTER_TOKEN": token, **settings}, log, started, say)
        host = listen.url_host(public_host(listen, env))
        url = f"http://{host}:{listen.port}/lab/tree/{notebook}?token={token}"
        say(M("lab_server.ready", "The lab is ready, open: {url}", url=url), False)
        if headless(env) and listen.loopback:
            tunnel = ssh_command(listen, env, getpass.getuser(), socket.gethostname())
            say(M("lab_server.ssh",
                  "No display here: from your laptop, run {command} then open the same address there.",
                  command=tunnel), False)
        elif open_browser:
            import webbrowser

            webbrowser.open(url)
        say(M("lab_server.stop_hint", "Ctrl+C stops JupyterLab ({container} keeps running); its log: {log}",
              container=container, log=str(log)), True)
        return started[-1].process.wait()
    except KeyboardInterrupt:
        if started:
            _stop(started[-1])
            say(M("lab_server.stopped", "JupyterLab is stopped; {container} keeps running.",
                  container=container), True)
        return 0
    finally:
        if started:
            _stop(started[-1])


def _start(asked: Listen, argv: Callable[[Listen], list[str]], env: Mapping[str, str], log: Path,
           started: list[JupyterLabProcess], say: Callable[[Message, bool], None]) -> Listen:
    """Start JupyterLab on the asked port or the next free one; return where it answers.

    The free port may be taken between our probe and the server's bind: then try the next."""
    code: int | str = "?"
    for _ in range(3):
        listen = Listen(asked.host, find_free_port(asked))
        if asked.port and listen.port != asked.port:
            say(M("lab_server.port_taken", "Port {wanted} is taken: JupyterLab uses port {port}.",
                  wanted=asked.port, port=listen.port), True)
        server = JupyterLabProcess(argv(listen), {**env, "PYTHONUNBUFFERED": "1"}, log)
        started.append(server)
        api = f"http://{listen.url_host()}:{listen.port}/api"
        if server.wait_ready(api):
            return listen
        server.stop()
        code = server.process.returncode
        if _port_free(listen):  # it did not die for want of its port: no point in another one
            break
    raise LabServerError(M("lab_server.not_started",
                           "JupyterLab did not start (exit code {code}): read the end of {log}.",
                           code=code, log=str(log)))


def _stop(server: JupyterLabProcess) -> None:
    # A second Ctrl+C must not leave JupyterLab half stopped.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server.stop()
    finally:
        signal.signal(signal.SIGINT, previous)


def _port_free(listen: Listen) -> bool:
    try:
        return find_free_port(listen, tries=1) == listen.port
    except LabServerError:
        return False
