"""What a chapter's `observe` and `reset` may reach: the main server, the snapshot server, the
learner's Incus client configuration.  Opened lazily, so the first chapter never pays for the
second server, and a class view hands each learner an Access limited to their projects."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import SnapshotServerMissing
from ..i18n import M

if TYPE_CHECKING:
    from ..incus.client import IncusClient


@dataclass
class Access:
    """The servers and files one learner's chapter may reach."""

    # The main server, in the learner's project.
    main: IncusClient
    # labkit's own view of the snapshot server in the learner's project (the instructor's or
    # root's, never the learner's remote: a learner could point that one at any server).
    open_snapshot_server: Callable[[], IncusClient] | None = None
    # The learner's client configuration folder (config.yml: their remotes), when readable:
    # None in a class view, where it lives on the learner's side.
    client_config: Path | None = None
    _snapshot: IncusClient | None = field(default=None, repr=False)

    def snapshot_server(self) -> IncusClient:
        if self._snapshot is None:
            if self.open_snapshot_server is None:
                raise SnapshotServerMissing(M(
                    "access.no_snapshot_server",
                    "This lab needs the snapshot server, and none is set up. "
                    "Run “sudo labkit setup --snapshot-server” (or, on a training server, ask your trainer)."))
            self._snapshot = self.open_snapshot_server()
        return self._snapshot

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
