"""The interface of a class's side on a server its chapter declares (labkit.servers).

`class create`, `class destroy`, the hub and the command line reach every declared server through
`ClassServerKind`, found by the server's id in server_kinds.KINDS; none of them names a kind.  What a
class holds there is the same for any kind: a project per learner, a certificate or token that lets
them in, and a line in their access folder that adds the server to their client."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..i18n import Message
from ..servers import Server

if TYPE_CHECKING:
    from .spec import ClassSpec


@dataclass
class Removed:
    """What `class destroy` removed on one server."""

    projects: list[str] = field(default_factory=list)
    certificates: int = 0
    tokens: int = 0


class OpenSide(Protocol):
    """labkit's open access to one server while `class create` runs."""

    def ensure_learner(self, spec: ClassSpec, learner: str) -> str | None:
        """The learner's project there and their way in; the line that adds the server to their
        client, or None when they already added it."""

    def close(self) -> None: ...


class ClassServerKind(Protocol):
    """A class's side on one kind of server."""

    server: Server
    remote_file: str  # in a learner's access folder: the line that adds this server to their client

    def plan(self, spec: ClassSpec) -> list[Message]:
        """What `create` would still do there, one line per learner (`--dry-run`)."""

    def open_for(self, spec: ClassSpec) -> OpenSide:
        """Access to the server for `create`, after refusing what would touch projects not of this class."""

    def readme(self, project: str) -> Message:
        """The paragraph of the learner's README.txt about this server."""

    def used_by(self, config: dict[str, str]) -> bool:
        """Whether a project of a class (its config) says the class has a side on this server."""

    def destroy_for(self, name: str) -> tuple[Removed | None, Message | None]:
        """Remove the class's side there; or, when the server is gone for good, say why nothing was."""

    def learner_address(self) -> str:
        """host:port where learners reach the server (their workspaces get a way there)."""


def remote_line(kind: ClassServerKind, bundle: Path) -> str | None:
    """The line a learner's access folder holds for `kind`, if any (what `class create` printed)."""
    try:
        return (bundle / kind.remote_file).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
