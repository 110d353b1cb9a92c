"""The servers a chapter may need besides the main one, declared by the chapter (`Chapter.needs`).

labkit has one kind today, the snapshot server: its provisioning in provision/second_server.py (reached
through provision/servers.admin_client_for), its class side in classroom/second_server.py (registered by
id in classroom/server_kinds.py, which classes, the hub and the command line go through).  Setup asks a
chapter whether it needs a server (`chapter.needs_server(SNAPSHOT_SERVER)`), never which chapter it is."""
from __future__ import annotations

from dataclasses import dataclass

from .i18n import M, Message


@dataclass(frozen=True)
class Server:
    """A server kind: a stable id (the `labkit setup --<id>` option, a workspace's proxy device,
    a doctor check) and what it is, for learners and instructors."""

    id: str
    title: Message
    # The chapter param that receives, per learner of a class, the name of their certificate in this
    # server's trust store (classes make one per learner; the chapter looks for it there).
    trust_param: str = ""


SNAPSHOT_SERVER = Server("snapshot-server", M("servers.snapshot_server", "the snapshot server"), trust_param="learner")
