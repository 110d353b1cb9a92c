"""The servers a chapter may need besides the main one, declared by the chapter (`Chapter.needs`).

labkit can bring up one kind today, the snapshot server (provision/second_server.py, with a class's
side in classroom/second_server.py); setup, classes, the hub and the CLI ask a chapter whether it
needs a server (`chapter.needs_server(SNAPSHOT_SERVER)`), never which chapter it is."""
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
