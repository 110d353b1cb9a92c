"""The hub's configuration: one generated file in the class folder, meant to be read.

Written again at every `serve` (ports are chosen free each time); what must survive a
restart (database, cookie secret, proxy token, accounts) lives in files beside it.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..labs import DEFAULT_LAB
from .accounts import notebook_file
from .pages import TEMPLATES, page_words
from .state import INSTRUCTOR, HubState
from .workspace_image import HOME

TEMPLATE = '''\
# JupyterHub configuration of the labkit class "{cls}", written by `labkit class serve`.
# It is generated again at every start: change labkit, not this file.
from labkit.hub.auth import ClassAuthenticator, arrival_url
from labkit.hub.spawner import WorkspaceSpawner

c = get_config()  # noqa: F821 - provided by JupyterHub

# Where people connect ({url}), and the hub's own ports (free loopback ports, chosen at start).
c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_bind_url = {hub_url!r}
c.ConfigurableHTTPProxy.api_url = {proxy_api!r}
c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"]
c.ConfigurableHTTPProxy.pid_file = {proxy_pid!r}
{tls}
# State kept across restarts, in the class folder.
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {cookie!r}
# The learners' servers stop with the hub, and their workspaces with them; their files stay.
c.JupyterHub.cleanup_servers = True

# Logins: each learner's own password, checked against the class's accounts file.
c.JupyterHub.authenticator_class = ClassAuthenticator
c.ClassAuthenticator.accounts_file = {accounts!r}
c.Authenticator.admin_users = {{{instructor!r}}}
c.Authenticator.allow_all = True
c.JupyterHub.default_url = arrival_url

# The hub's own pages (login, home, starting, errors) in the class language.
c.JupyterHub.template_paths = [{templates!r}]
c.JupyterHub.template_vars = {{"labkit": {words!r}}}

# Each learner's JupyterLab runs inside their own workspace container (labkit.hub.spawner),
# never as a process of theirs on this machine.
c.JupyterHub.spawner_class = WorkspaceSpawner
c.WorkspaceSpawner.project = {cls!r}
c.WorkspaceSpawner.accounts_file = {accounts!r}
c.WorkspaceSpawner.lang_env = {lang_env!r}
c.Spawner.default_url = {default_url!r}
c.Spawner.notebook_dir = {home!r}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# The instructor's dashboard: a service behind the hub's OAuth, reading the class with the
# instructor's own access. Its role lets it identify who visits, nothing more.
c.JupyterHub.services = [{{
    "name": "labkit",
    "url": {dashboard_url!r},
    "command": {dashboard_cmd!r},
    "environment": {dashboard_env!r},
    "oauth_no_confirm": True,
    "display": True,
}}, {{
    # A workspace without activity for {idle} min is stopped (its files stay; the next login starts it).
    "name": "idle-culler",
    "command": {culler_cmd!r},
}}]
c.JupyterHub.load_roles = [
    {{"name": "labkit-dashboard", "services": ["labkit"], "scopes": ["read:users:name"]}},
    {{"name": "instructor", "users": [{instructor!r}], "scopes": ["access:services!service=labkit"]}},
    {{"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}},
]
'''


@dataclass(frozen=True)
class HubPorts:
    bind_url: str  # public, e.g. http://127.0.0.1:8000
    hub: int
    proxy_api: int
    dashboard: int


LOCALES = {"fr": "fr_FR.UTF-8", "en": "en_US.UTF-8"}  # generated in the workspace image


def render_config(*, state: HubState, cls: str, ports: HubPorts, lang: str, dashboard_env: dict[str, str],
                  ssl_cert: Path | None = None, ssl_key: Path | None = None, lab: str = DEFAULT_LAB,
                  idle_minutes: int = 60) -> str:
    """The hub's configuration; a learner's JupyterLab opens on the notebook of the class's `lab`."""
    tls = ""
    if ssl_cert and ssl_key:
        tls = (f"# HTTPS, with the certificate given to `labkit class serve`.\n"
               f"c.JupyterHub.ssl_cert = {str(ssl_cert)!r}\nc.JupyterHub.ssl_key = {str(ssl_key)!r}\n")
    dashboard_cmd = [sys.executable, "-m", "labkit.hub.dashboard", "--class", cls, "--folder", str(state.folder),
                     "--lang", lang]
    return TEMPLATE.format(
        cls=cls, url=ports.bind_url, bind_url=ports.bind_url, hub_url=f"http://127.0.0.1:{ports.hub}",
        proxy_api=f"http://127.0.0.1:{ports.proxy_api}", proxy_pid=str(state.root / "proxy.pid"), tls=tls,
        db_url=f"sqlite:///{state.root / 'jupyterhub.sqlite'}", cookie=str(state.root / "jupyterhub_cookie_secret"),
        accounts=str(state.accounts_file), instructor=INSTRUCTOR, lang_env=LOCALES.get(lang, "C.UTF-8"), home=HOME,
        default_url=f"/lab/tree/{notebook_file(lab)}", idle=idle_minutes, templates=str(TEMPLATES),
        words=page_words(lang), culler_cmd=[sys.executable, "-m", "jupyterhub_idle_culler",
                                            f"--timeout={idle_minutes * 60}", "--cull-every=60"],
        dashboard_url=f"http://127.0.0.1:{ports.dashboard}", dashboard_cmd=dashboard_cmd, dashboard_env=dashboard_env)
