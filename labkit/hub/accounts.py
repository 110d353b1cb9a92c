"""The class's hub logins, and what each learner's workspace is given when it is made.

A learner logs in with their roster name and a password labkit made; the hub user is that
name in lower case.  No Unix account exists for them anywhere: their JupyterLab runs in
their workspace container (workspaces.py), as its unprivileged `learner`.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..classroom.server_kinds import kinds_for
from ..errors import SetupError
from ..i18n import M
from ..labs import CHAPTERS, DEFAULT_LAB, chapter_named
from .state import Account, Accounts, HubState, new_password
from .workspaces import Files, workspace_name

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# JupyterLab's own menus in the class language (its French language pack is in the runtime).
LAB_LANGUAGE = ".jupyter/lab/user-settings/@jupyterlab/translation-extension/plugin.jupyterlab-settings"
LAB_LOCALES = {"fr": "fr_FR", "en": "en"}


def hub_login(learner: str) -> str:
    return learner.lower()


def ensure_accounts(state: HubState, learners: tuple[str, ...], lang: str) -> Accounts:
    """The class's logins: kept from an earlier run (same passwords), completed for new learners."""
    accounts = state.read_accounts() or Accounts(new_password(), lang=lang)
    for learner in learners:
        if learner not in accounts.learners:
            accounts.learners[learner] = Account(learner, hub_login(learner), new_password(), workspace_name(learner))
    state.write_accounts(accounts)
    return accounts


def notebook_file(lab: str) -> str:
    """The file name of a lab's notebook, in a learner's workspace as in notebooks/<lang>/."""
    return f"{chapter_named(lab).notebook}.ipynb"


def workspace_files(*, bundle: Path, remote: str, project: str, lang: str, lab: str = DEFAULT_LAB) -> Files:
    """Every lab's notebook in the class language (the class's `lab` must exist), and the learner's
    Incus client folder: their certificate, the server's, and the line for each server the lab declares."""
    wanted = NOTEBOOKS / lang / notebook_file(lab)
    if not wanted.exists():
        raise SetupError(M("hub.accounts.no_notebook", "The notebook {path} is missing: serve the class from a labkit "
                           "checkout (where “make notebooks” builds it).", path=str(wanted)))
    home = {name: (NOTEBOOKS / lang / name).read_bytes()
            for name in dict.fromkeys(notebook_file(other) for other in CHAPTERS) if (NOTEBOOKS / lang / name).exists()}
    home[LAB_LANGUAGE] = json.dumps({"locale": LAB_LOCALES.get(lang, "en")}).encode()
    extra = {kind.remote_file: (bundle / kind.remote_file).read_bytes()
             for kind in kinds_for(lab) if (bundle / kind.remote_file).exists()}
    return Files(home, bundle, remote, project, extra)
