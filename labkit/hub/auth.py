"""The hub's authenticator: each login's own password, from the class's accounts file.

A learner types their roster name (`learner01`); the hub user is that name in lower case,
whose server runs in their workspace container (spawner.py).  The instructor is
`instructor`, hub admin, with no server of their own.
"""
from __future__ import annotations

import hmac
import json
from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Unicode

from .state import INSTRUCTOR


class ClassAuthenticator(Authenticator):
    accounts_file = Unicode(help="The class's hub/accounts.json (owner-only).").tag(config=True)

    def _logins(self) -> dict[str, tuple[str, str]]:
        """login typed -> (hub user, password); read at every login, so new learners need no restart."""
        data = json.loads(Path(self.accounts_file).read_text(encoding="utf-8"))
        found = {INSTRUCTOR: (INSTRUCTOR, data[INSTRUCTOR]["password"])}
        for learner, account in data.get("learners", {}).items():
            found[learner.lower()] = (account["login"], account["password"])
        return found

    async def authenticate(self, handler, data):
        typed = (data.get("username") or "").strip().lower()
        found = self._logins().get(typed)
        # Compared in constant time, and a wrong login costs the same as a wrong password.
        expected = found[1] if found else "\0" * 19
        if not hmac.compare_digest(expected.encode(), (data.get("password") or "").encode()) or not found:
            return None
        return {"name": found[0], "admin": found[0] == INSTRUCTOR}

    def check_allowed(self, username, authentication=None):
        return True  # only the accounts file's logins authenticate at all


def arrival_url(handler) -> str:
    """The instructor lands on the dashboard; a learner on their own server (spawned on arrival)."""
    user = handler.current_user
    if user is not None and user.name == INSTRUCTOR:
        return handler.hub.base_url.replace("/hub/", "/services/labkit/")
    return handler.hub.base_url + "spawn"
