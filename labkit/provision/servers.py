"""labkit's own client on a server a chapter declares (labkit.servers), whatever the chapter: the
one place that knows how each kind is reached.  labkit provisions one kind today, the snapshot
server (second_server.py)."""
from __future__ import annotations

from ..errors import ServerMissing
from ..i18n import M
from ..incus.client import IncusClient
from ..servers import SNAPSHOT_SERVER, Server


def admin_client_for(server: Server, project: str, *, lean_reads: bool = False) -> IncusClient:
    """labkit's client on `server` (the instructor's or root's access), in `project`."""
    if server.id == SNAPSHOT_SERVER.id:
        from .second_server import admin_client  # its modules load only for a chapter that needs it

        return admin_client(project, lean_reads=lean_reads)
    raise ServerMissing(M("servers.unknown", "This labkit cannot reach a server of the kind “{id}”.", id=server.id))
