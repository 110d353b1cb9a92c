"""One error hierarchy: every failure a user can meet carries a translatable message.

The CLI renders it in the user's language and exits 2; the notebook shows it in a box.
"""
from __future__ import annotations

from .i18n import Message


class LabkitError(Exception):
    """Base of every error labkit reports to a person."""

    __test__ = False  # keep pytest from collecting subclasses named Test…
    exit_code = 2

    def __init__(self, message: Message):
        super().__init__(message.english.format(**message.params) if message.params else message.english)
        self.message = message

    def render(self, lang: str) -> str:
        return self.message.render(lang)


class IncusUnavailable(LabkitError):
    """The daemon cannot be reached (socket missing, refused, daemon down)."""


class IncusAccessDenied(LabkitError):
    """The socket exists but this user may not use it, or the project is forbidden."""


class InstanceNotFound(LabkitError):
    """The named instance does not exist in the project."""


class IncusTimeout(LabkitError):
    """The daemon did not answer, or an operation did not finish, in time."""


class IncusRequestFailed(LabkitError):
    """The daemon refused a request for another reason; its own message is kept."""


class InvalidName(LabkitError):
    """A container or snapshot name Incus would reject."""


class SetupError(LabkitError):
    """Installing, initialising or building the lab environment failed."""


class LabServerError(LabkitError):
    """JupyterLab cannot be started: not installed, no free port, or it died while starting."""


class UsageError(LabkitError):
    """Bad arguments: unknown step, unknown language, missing confirmation."""



class ServerMissing(LabkitError):
    """A chapter needs a server besides the main one (labkit.servers) and none is set up or reachable."""


class SnapshotServerMissing(ServerMissing):
    """The snapshot server is not set up, or not running, or not reachable."""
