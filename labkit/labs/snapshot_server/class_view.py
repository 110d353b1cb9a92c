"""The “snapshot server” chapter seen for a whole class at once (its `observe_class` hook).

Alone, a learner's look (`snapshot_server_observe.gather`) sends six requests.  Three are the
same for every learner of a class: the snapshot server's addresses and its certificates, asked
by labkit's own access; and the instances on both servers come in one all-projects listing each
(the main server's is the class view's own).  So a class view asks those once, and each learner
then costs the snapshots of their instance, and of their copy when they have one: for 30
learners without a copy, 212 requests became 35 (bench/class.py --lab snapshot-server).  What is built
from the answers is the same observation (`build`), so the checks cannot tell the two looks apart.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable

from ...incus.client import IncusClient
from ...pools import named_pool
from ...servers import SNAPSHOT_SERVER
from .observe import ServerObservation, build, instance_snapshots, read_client, server_addresses


def _requests() -> ThreadPoolExecutor:
    """The class-wide requests, sent together: made once, on the first class view (never at import)."""
    return named_pool("class-server", 3)


def observe_class(main: IncusClient, params: dict[str, str], projects: dict[str, str],
                  instances: list[dict[str, Any]] | None,
                  cache: dict[tuple, Any]) -> Callable[[str, Any, Any], ServerObservation]:
    """Each learner's look, sharing the class-wide answers.  `instances` is the main server's
    all-projects listing (None on a partial refresh: each learner's instance is then asked alone)."""
    container = params["container"]
    taken_at = datetime.now(timezone.utc)
    listed = {(i.get("project"), i.get("name")): i for i in instances or []}
    shared: dict[str, Future] = {}
    lock = threading.Lock()

    def server_wide(server: IncusClient) -> dict[str, Future]:
        # Asked by the first look that gets here, through labkit's own access (the same for all).
        with lock:
            if not shared:
                pool = _requests()
                shared["info"] = pool.submit(server.server)
                shared["instances"] = pool.submit(server.request, "GET", "/1.0/instances",
                                                  params={"recursion": 1, "all-projects": "true"}, project=False)
                shared["certificates"] = pool.submit(server.request, "GET", "/1.0/certificates",
                                                     params={"recursion": 1}, project=False)
        return shared

    def look(learner: str, access: Any, history: Any) -> ServerObservation:
        project, view, server = projects[learner], access.main, access.server(SNAPSHOT_SERVER)
        wide = server_wide(server)
        primary = listed.get((project, container)) if instances is not None else view.instance_or_none(container)
        primary_snapshots = instance_snapshots(view, container) if primary is not None else []
        # The listing names each instance's project; the learner's alone are theirs.
        theirs = [item for item in wide["instances"].result() or [] if item.get("project") == project]
        copied = any(i.get("name") == container for i in theirs)
        copy_snapshots = instance_snapshots(server, container) if copied else []
        remotes, fingerprint, error = read_client(access.client_config)
        raw = {
            "primary": primary, "primary_snapshots": primary_snapshots,
            "server_instances": theirs, "copy_snapshots": copy_snapshots,
            "certificates": [{k: v for k, v in c.items() if k != "certificate"}
                             for c in wide["certificates"].result() or []],
            "server_addresses": server_addresses(wide["info"].result(), remotes, first=params.get("remote")),
            "client_remotes": remotes, "client_fingerprint": fingerprint,
        }
        if error is not None:
            raw["client_error"] = error
        return build(raw, params, taken_at)

    return look
