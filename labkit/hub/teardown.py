"""What `class destroy` removes of a served class: the running hub (the learners' workspaces
go with the class project, the hub's state with the class folder), then the workspace images
no other class uses."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..i18n import M, Message
from ..incus.client import IncusClient
from .serve import stop_running
from .state import HubState
from .workspace_image import unused_workspace_images


def remove_hub(name: str, folder: Path, progress: Callable[[Message], None] | None = None) -> None:
    say = progress or (lambda message: None)
    state = HubState(folder)
    if state.running_pid() is not None:
        state.destroying.touch()
    if stop_running(state):
        say(M("hub.destroy.stopped", "The hub serving the class was stopped."))


def remove_unused_images(client: IncusClient, progress: Callable[[Message], None] | None = None) -> None:
    """After the class's projects are gone: its workspace image, unless another class uses it."""
    unused = unused_workspace_images(client)
    for fingerprint in unused:
        client.request("DELETE", f"/1.0/images/{fingerprint}", params={"project": "default"}, project=False,
                       timeout=120)
    if unused and progress:
        progress(M("hub.destroy.images", "The workspace image, used by no other class, was removed."))
