"""Who a snapshot server's trust token is for, and the token itself (`labkit setup --snapshot-server`,
second_server.py): the caller's own Incus client, a fresh one-time token whenever the server does not
trust it yet, named after its user so that a trainer tells the certificates apart."""
from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SetupError
from ..i18n import M
from ..incus.certs import fingerprint
from ..incus.client import IncusClient


@dataclass(frozen=True)
class Caller:
    """Whose Incus client the token is for: the user who ran setup (through sudo: SUDO_USER), and
    the fingerprint of their client certificate (None when they have none yet)."""

    user: str
    fingerprint: str | None



def caller_client(environ: dict[str, str] | None = None) -> Caller:
    """The Incus client of whoever runs `labkit setup --snapshot-server`: INCUS_CONF when set, else
    the client folder of SUDO_USER (sudo gives root's HOME), else of the current user."""
    import getpass
    import pwd

    env = os.environ if environ is None else environ
    user = env.get("SUDO_USER") if os.geteuid() == 0 and env.get("SUDO_USER") else getpass.getuser()
    if env.get("INCUS_CONF"):
        conf = Path(env["INCUS_CONF"])
    else:
        try:
            home = Path(pwd.getpwnam(user).pw_dir)
        except KeyError:
            home = Path.home()
        conf = home / ".config" / "incus"
    try:
        found = fingerprint((conf / "client.crt").read_text(encoding="ascii"))
    except (OSError, ValueError, UnicodeError):
        found = None
    return Caller(user, found)


def learner_token(client: IncusClient, prefix: str, caller: Caller) -> tuple[str | None, str | None]:
    """A fresh one-time token for the caller's client, or (None, None) when the server trusts it.

    Named “<prefix>-<user>-<time>”, so that the trainer tells the certificates made from them apart
    (`incus config trust list` there).  Earlier tokens still pending stay valid: a trainer running this
    once per learner as the same user hands each one out."""
    trusted = client.request("GET", "/1.0/certificates", params={"recursion": 1}, project=False) or []
    if caller.fingerprint and any(c.get("fingerprint") == caller.fingerprint for c in trusted):
        return None, None
    user = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in caller.user)[:32] or "user"
    name = f"{prefix}-{user}-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid() % 1000:03d}"
    # The token's operation runs until the token is used: read its metadata, do not wait for it.
    answer = client.raw("POST", "/1.0/certificates", json={"name": name, "type": "client", "token": True},
                        project=False)
    if answer.status_code != 202:
        raise SetupError(M("snapshot_server.token_failed",
            "The snapshot server refused to make a trust token (HTTP {code}). Its log is in its folder.",
            code=answer.status_code))
    return encode_token(name, answer.json()["metadata"]["metadata"]), name


def encode_token(name: str, meta: dict[str, Any]) -> str:
    """The token as `incus config trust add` prints it (base64 of this JSON)."""
    body = {"client_name": name, "fingerprint": meta["fingerprint"], "addresses": meta["addresses"],
            "secret": meta["secret"], "expires_at": meta.get("expires_at", "0001-01-01T00:00:00Z")}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()
