"""Back to the chapter's start: instance running, no lab snapshot, no file, new attempt."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from ..incus import instances
from ..labs.baseline import BASELINE_UUID, record_baseline
from ..classroom.spec import CLASS_KEY
from ..errors import InstanceNotFound
from ..i18n import M
from .session import Session


def reset_instance(session: Session) -> Path | None:
    client, name = session.client, session.container
    data = client.instance_or_none(name)
    if data is None:
        raise InstanceNotFound(M("reset.no_instance", "There is no instance “{container}” to reset. Create it with “labkit setup”.", container=name))
    if any(s["name"] == session.snapshot for s in client.snapshots(name)):
        client.request("DELETE", f"/1.0/instances/{quote(name)}/snapshots/{quote(session.snapshot, safe='')}")
    if client.file_info(name, session.file_path) is not None:
        client.request("DELETE", f"/1.0/instances/{quote(name)}/files", params={"path": session.file_path})
    if data.get("status") != "Running":
        instances.change_state(client, name, "start")
    config = client.instance(name).get("config") or {}
    if BASELINE_UUID in config and CLASS_KEY not in config:
        # Recorded by setup: the new attempt starts from the instance as it is now. A class's keys
        # stay as the class wrote them: its instructor holds the same values and flags any change.
        record_baseline(client, name)
    archived = session.journal.archive()
    session.journal.ensure_baseline(session.observe().instance)
    return archived
