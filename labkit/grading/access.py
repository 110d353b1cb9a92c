"""What a chapter's `observe` and `reset` may reach: the main server, each server the chapter
declares (`Chapter.needs`), the learner's Incus client configuration.  Opened lazily, so a chapter
never pays for a server it does not ask for, and a class view hands each learner an Access limited
to their projects."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import ServerMissing
from ..i18n import M

if TYPE_CHECKING:
    from ..incus.client import IncusClient
    from ..servers import Server


@dataclass
class Access:
    """The servers and files one learner's chapter may reach."""

    # The main server, in the learner's project.
    main: IncusClient
    # labkit's own view of each declared server in the learner's project, by `Server.id` (the
    # instructor's or root's, never the learner's remote: a learner could point that one anywhere).
    servers: dict[str, Callable[[], IncusClient]] = field(default_factory=dict)
    # The learner's client configuration folder (config.yml: their remotes), when readable:
    # None in a class view, where it lives on the learner's side.
    client_config: Path | None = None
    _opened: dict[str, IncusClient] = field(default_factory=dict, repr=False)

    def server(self, server: Server) -> IncusClient:
        """labkit's client on a server the chapter declared, opened on first use."""
        if server.id not in self._opened:
            opener = self.servers.get(server.id)
            if opener is None:
                raise ServerMissing(M("access.no_server", "This lab needs {server}, and none is set up. "
                                                          "Run “sudo labkit setup --{id}” (or, on a training server, "
                                                          "ask your trainer).", server=server.title, id=server.id))
            self._opened[server.id] = opener()
        return self._opened[server.id]

    def close(self) -> None:
        for client in self._opened.values():
            client.close()
