"""The kinds of server a class can have a side on, by the id a chapter declares (labkit.servers).

One kind today, the snapshot server (second_server.py).  A chapter that needs a new kind brings its
provisioning (provision/), a class side implementing server_side.ClassServerKind, and its line here;
create, destroy, the hub and the command line then handle it as they handle the snapshot server."""
from __future__ import annotations

from ..errors import ServerMissing
from ..i18n import M
from ..labs import chapter_named
from ..servers import SNAPSHOT_SERVER, Server
from .second_server import SnapshotServerSide
from .server_side import ClassServerKind

KINDS: dict[str, ClassServerKind] = {SNAPSHOT_SERVER.id: SnapshotServerSide()}


def kind_of(server: Server) -> ClassServerKind:
    try:
        return KINDS[server.id]
    except KeyError:
        raise ServerMissing(M("class.servers.unknown", "This labkit cannot prepare a class on a server of the kind "
                                                       "“{id}”.", id=server.id)) from None


def kinds_for(lab: str) -> list[ClassServerKind]:
    """The class side of every server the lab's chapter declares, in its order."""
    return [kind_of(server) for server in chapter_named(lab).needs]
