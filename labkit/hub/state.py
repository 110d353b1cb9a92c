"""Where the hub of a class keeps its state: `hub/` inside the class folder (root only).

accounts.json holds each login's password (the instructor hands them out again with
`labkit class credentials`), so the folder and the file are owner-only.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ..incus.certs import private_folder, write_private

INSTRUCTOR = "instructor"
PASSWORD_WORDS = 4


@dataclass(frozen=True)
class Account:
    learner: str  # the roster's name, what the learner types as login
    login: str  # the hub user it maps to
    password: str
    workspace: str  # the learner's workspace container, in the class project


@dataclass
class Accounts:
    """Every login of a class's hub: the instructor, and one per learner."""

    instructor_password: str
    learners: dict[str, Account] = field(default_factory=dict)
    lang: str = "en"  # the class language: learners' notebooks and credential cards
    url: str = ""  # where the hub was last served

    def to_json(self) -> dict:
        return {INSTRUCTOR: {"password": self.instructor_password}, "lang": self.lang, "url": self.url,
                "learners": {k: vars(a) for k, a in sorted(self.learners.items())}}

    @classmethod
    def from_json(cls, data: dict) -> Accounts:
        learners = {k: Account(k, v["login"], v["password"], v.get("workspace", ""))
                    for k, v in data.get("learners", {}).items()}
        return cls(data[INSTRUCTOR]["password"], learners, data.get("lang", "en"), data.get("url", ""))


def new_password() -> str:
    """Easy to read aloud and to type from a printed card: no 0/O or 1/l, about 60 bits."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(PASSWORD_WORDS))


@dataclass(frozen=True)
class HubState:
    folder: Path  # the class folder

    @property
    def root(self) -> Path:
        return self.folder / "hub"

    def ensure(self) -> HubState:
        private_folder(self.folder)
        private_folder(self.root)
        return self

    @property
    def config(self) -> Path:
        return self.root / "jupyterhub_config.py"

    @property
    def accounts_file(self) -> Path:
        return self.root / "accounts.json"

    @property
    def pid_file(self) -> Path:
        return self.root / "serve.pid"

    @property
    def destroying(self) -> Path:
        """Left by `class destroy` before it stops a running `serve`, which then says there is nothing to resume."""
        return self.root / "destroying"

    @property
    def log(self) -> Path:
        return self.root / "jupyterhub.log"

    def secret(self, name: str, size: int = 32) -> str:
        """A secret made once and kept (cookie secret, proxy token): a restart keeps sessions."""
        path = self.root / name
        if not path.exists():
            write_private(path, secrets.token_hex(size))
        return path.read_text(encoding="ascii").strip()

    def read_accounts(self) -> Accounts | None:
        if not self.accounts_file.exists():
            return None
        return Accounts.from_json(json.loads(self.accounts_file.read_text(encoding="utf-8")))

    def write_accounts(self, accounts: Accounts) -> None:
        write_private(self.accounts_file, json.dumps(accounts.to_json(), indent=2, ensure_ascii=False) + "\n")

    def running_pid(self) -> int | None:
        """The PID of a `labkit class serve` still running for this class, if any."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        return pid if b"serve" in cmdline and os.getpid() != pid else None
