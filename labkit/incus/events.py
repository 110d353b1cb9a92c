"""Lifecycle events from the daemon, over the events websocket.

Incus keeps no history of events: what nobody listened to is lost.  A listener
turns the events about one instance into small journal entries.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote, urlsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, unix_connect
from websockets.sync.client import connect as tls_connect

from ..errors import IncusUnavailable
from ..i18n import M
from .timestamps import parse_incus_time

if TYPE_CHECKING:  # the recorder imports journal_entry without the HTTP client
    from .client import Endpoint

ACTIONS = ("instance-snapshot-created", "instance-restored", "instance-shutdown", "instance-stopped",
           "instance-started", "instance-snapshot-deleted", "instance-deleted", "instance-created",
           "instance-renamed", "instance-migrated")


def journal_entry(event: dict[str, Any], container: str, project: str) -> dict[str, Any] | None:
    """The part of a lifecycle event the checks use, or None when it is about something else."""
    meta = event.get("metadata") or {}
    action = meta.get("action")
    if event.get("type") != "lifecycle" or action not in ACTIONS or event.get("project", "default") != project:
        return None
    parts = unquote(urlsplit(meta.get("source", "")).path).split("/")
    # /1.0/instances/NAME[/snapshots/SNAP]
    if len(parts) < 4 or parts[2] != "instances":
        return None
    context: dict[str, Any] = {}
    if action == "instance-renamed" and len(parts) == 4:
        # Both ways count: an instance renamed away from the lab's name is restored, stopped…
        # under another name, where no event about the lab's instance says so.
        old_name = (meta.get("context") or {}).get("old_name")
        if container not in (parts[3], old_name):
            return None
        context = {"name": parts[3], "old_name": old_name}
    elif parts[3] != container:
        return None
    if action == "instance-migrated" and len(parts) == 5:
        # A copy of a snapshot: the source is /1.0/instances/NAME%2FSNAP (a whole copy or a refresh: NAME).
        context["snapshot"] = f"{parts[3]}/{parts[4]}"
    if len(parts) >= 6 and parts[4] == "snapshots":
        context["name"] = parts[5]
    if "snapshot" in (meta.get("context") or {}):
        context["snapshot"] = meta["context"]["snapshot"]
    when = parse_incus_time(event.get("timestamp")) or datetime.now(timezone.utc)
    return {"action": action, "time": when.isoformat(), "context": context}


def connect(endpoint: Endpoint, all_projects: bool = False, timeout: float = 5.0,
            types: str = "lifecycle") -> ClientConnection:
    query = f"type={types}" + ("&all-projects=true" if all_projects else f"&project={endpoint.project}")
    try:
        if endpoint.remote is not None:
            from .certs import ssl_context  # a remote's TLS: the recorder, on the local socket, never loads certs

            remote = endpoint.remote
            return tls_connect(f"wss://{remote.address}/1.0/events?{query}", open_timeout=timeout,
                               ssl=ssl_context(remote.client, remote.server_cert))
        return unix_connect(str(endpoint.socket), f"ws://incus/1.0/events?{query}", open_timeout=timeout)
    except (OSError, WebSocketException) as exc:
        raise IncusUnavailable(M("events.unavailable", "Could not listen to Incus events on {socket} "
                                                       "({detail}). Checks still work, but steps whose "
                                                       "evidence disappears (the stop before a restore) can "
                                                       "only be verified if you check right after doing them.",
                                 socket=str(endpoint.socket), detail=str(exc))) from exc


class Listener:
    """Listens in a background thread and hands each relevant entry to `sink`."""

    def __init__(self, endpoint: Endpoint, container: str, sink: Callable[[dict[str, Any]], None]):
        self.endpoint, self.container, self.sink = endpoint, container, sink
        self._ws: ClientConnection | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Listener:
        self._ws = connect(self.endpoint)
        self._thread = threading.Thread(target=self._run, name="labkit-events", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        assert self._ws is not None
        try:
            # The connection is opened in start() so that errors surface there;
            # entering it here makes the thread own its closing.
            with self._ws:
                for raw in self._ws:
                    entry = journal_entry(json.loads(raw), self.container, self.endpoint.project)
                    if entry is not None:
                        self.sink(entry)
        except (WebSocketException, OSError, ValueError):
            # Closed by stop(), or the daemon went away: either way checks go on without events.
            return

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
