"""What `class destroy` removes of a served class: the running hub, the learners' Unix
accounts and homes (the hub's state goes with the class folder)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..i18n import M, Message
from .accounts import class_homes, class_users, remove_accounts
from .serve import stop_running
from .state import HubState


def confirmation(name: str, question: Message) -> Message:
    """The usual question, with the accounts named when the class was served."""
    users = class_users(name)
    if not users:
        return question
    return M("hub.destroy.confirm", "{question} The hub's {count} Unix accounts and their homes in {homes} (notebooks and journals) are removed too.", question=question, count=len(users), homes=str(class_homes(name)))


def remove_hub(name: str, folder: Path, progress: Callable[[Message], None] | None = None) -> None:
    say = progress or (lambda message: None)
    if stop_running(HubState(folder)):
        say(M("hub.destroy.stopped", "The hub serving the class was stopped."))
    removed = remove_accounts(name)
    if removed:
        say(M("hub.destroy.accounts", "{count} Unix accounts and their homes removed.", count=len(removed)))
