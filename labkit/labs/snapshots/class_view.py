"""The “container snapshots” chapter seen for a whole class at once (its `observe_class` hook).

The class view lists every instance in one all-projects request (done by the class code, which
needs it anyway); this adds one listing of snapshot volumes per pool, then per learner at most
one file request, and only where it can change a verdict: a few HEADs for a misplaced file, one
short exec in a same-second tie.  The class code runs each learner's look with its time limits
and reports a look that fails or lasts too long as “unobserved”.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable

from ...errors import IncusRequestFailed
from ...grading.engine import History
from ...i18n import M
from ...incus.client import IncusClient
from ...pools import named_pool
from .observe import Observation, build_observation, fine_file_time, look_elsewhere, same_second

RETRIES = 30  # × 0.1 s: longer than a clean stop takes


def _requests() -> ThreadPoolExecutor:
    """The learners' own requests: made once, on the first class view (never at import)."""
    return named_pool("class-look-io", 16)


def observe_class(main: IncusClient, params: dict[str, str], projects: dict[str, str],
                  instances: list[dict[str, Any]] | None,
                  cache: dict[tuple, Any]) -> Callable[[str, Any, History | None], Observation]:
    """Start the class-wide listing of snapshot volumes, and return each learner's look.

    `instances` is the all-projects listing (None on a partial refresh: each learner is then asked
    alone); `cache` holds the finer file times already read (an exec is an event: once per tie)."""
    container, snapshot, file_path = params["container"], params["snapshot"], params["file"]
    taken_at = datetime.now(timezone.utc)
    listed = {(i.get("project"), i["name"]): i for i in instances or []}
    volumes: Future | None = None if instances is None else _requests().submit(all_volumes, main)
    known: dict[str, Any] = {}
    lock = threading.Lock()

    def snapshots_of(project: str) -> list[dict[str, Any]] | None:
        if volumes is None:
            return None
        with lock:
            if "all" not in known:
                known["all"] = snapshots_by_instance(volumes.result(), set(projects.values()))
        return known["all"].get((project, container), [])

    def look(learner: str, access: Any, history: History | None) -> Observation:
        view, project = access.main, projects[learner]
        data = listed.get((project, container)) if instances is not None else view.instance_or_none(container)
        for attempt in range(RETRIES + 1):
            if data is None:
                return build_observation(container, snapshot, file_path, None, [], None, taken_at=taken_at)
            try:
                if settled(data):
                    listing = None if _stateful(data) else snapshots_of(project)
                    return _look(view, container, snapshot, file_path, data, listing, history, cache, taken_at)
            except IncusRequestFailed:
                if attempt == RETRIES:
                    raise
            # A stopping instance is listed as “Error” without config, and answers 500 to file
            # requests, for a moment: look at it alone again (the other learners are not held up).
            time.sleep(0.1)
            data = view.instance_or_none(container)
        raise IncusRequestFailed(M("class.status.unsettled", "The instance of {learner} (project “{project}”) does not "
                                                             "settle: Incus reports it as “{status}”. Look at it with "
                                                             "“incus info {container} --project {project} --show-log”.",
                                   learner=learner, project=project, status=data.get("status", "?"),
                                   container=container))

    return look


def _look(view: IncusClient, container: str, snapshot: str, file_path: str, data: dict[str, Any],
          known: list[dict[str, Any]] | None, history: History | None, fine_cache: dict[tuple, Any],
          taken_at: datetime) -> Observation:
    """One learner's snapshots (unless known) and file, then only if they matter: a few HEADs for a
    misplaced file, and the file's finer time in a same-second tie (once per tie: an exec is an event)."""
    pool = _requests()
    if known is None:
        listing, found = (f.result() for f in [pool.submit(view.snapshots, container),
                                                pool.submit(view.file_info, container, file_path)])
    else:
        listing = known
        found = view.file_info(container, file_path) if file_matters(data, listing, snapshot, history) else None
    elsewhere: tuple[str, ...] = ()
    if found is None and elsewhere_matters(data, listing, snapshot, history):
        elsewhere = look_elsewhere(view, pool, container, file_path)
    fine = None
    if same_second(data, listing, found, snapshot):
        key = (view.project, (data.get("config") or {}).get("volatile.uuid"), str(found.modified),
               next(s.get("created_at") for s in listing if s.get("name") == snapshot))
        if key not in fine_cache:
            fine_cache[key] = fine_file_time(view, container, file_path)
        fine = fine_cache[key]
    return build_observation(container, snapshot, file_path, data, listing, found, elsewhere, taken_at, fine)


def _snapped(listing: list[dict[str, Any]], snapshot: str, history: History) -> bool:
    """Whether the snapshot step can pass: the snapshot is there, or the journal saw it."""
    return (any(s.get("name") == snapshot for s in listing) or "snapshot" in history.passed
            or history.saw("instance-snapshot-created", name=snapshot) is not None)


def _restored(data: dict[str, Any], history: History) -> bool:
    """Whether a restore is proven (an event, or a new generation against the class's baseline)."""
    config, base = data.get("config") or {}, history.baseline
    return history.saw("instance-restored") is not None or (
        base is not None and base.uuid == config.get("volatile.uuid")
        and base.generation != config.get("volatile.uuid.generation"))


def file_matters(data: dict[str, Any], listing: list[dict[str, Any]], snapshot: str, history: History | None) -> bool:
    """Whether the file can change any verdict. Before the snapshot step can pass, with no touch and no
    restore ever seen, every step that looks at the file first asks for the snapshot (check_touch, then
    stop, restore, verify in turn), so a class at its start costs no file request. Only with a baseline
    held by the class: otherwise the keys decide the restore, after this look."""
    if history is None or history.baseline is None:
        return True
    return _snapped(listing, snapshot, history) or "touch" in history.passed or _restored(data, history)


def elsewhere_matters(data: dict[str, Any], listing: list[dict[str, Any]], snapshot: str,
                      history: History | None) -> bool:
    """Whether a misplaced file could change the touch step's verdict (see check_touch): not before
    the snapshot step can pass, nor once a restore is proven."""
    history = history or History()
    return _snapped(listing, snapshot, history) and not _restored(data, history)


def _stateful(data: dict[str, Any]) -> bool:
    # A volume listing does not say whether a snapshot holds memory; such instances are asked directly.
    return (data.get("expanded_config") or data.get("config") or {}).get("migration.stateful") == "true"


def all_volumes(client: IncusClient) -> list[dict[str, Any]]:
    """Every volume of every pool and project: a few milliseconds per pool, asked at once."""
    pools = client.request("GET", "/1.0/storage-pools", project=False) or []
    jobs = [_requests().submit(client.request, "GET", f"{pool}/volumes", project=False,
                               params={"recursion": 1, "all-projects": "true"}) for pool in pools]
    return [volume for job in jobs for volume in job.result() or []]


def snapshots_by_instance(volumes: list[dict[str, Any]],
                          projects: set[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every snapshot of the class's instances from the volume listings (snapshot volumes carry the
    same created_at as the instance snapshots, to the nanosecond), instead of one request per learner."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for volume in volumes:
        name, project = volume.get("name", ""), volume.get("project", "default")
        if project in projects and "/" in name and volume.get("type") in ("container", "virtual-machine"):
            instance, snap = name.split("/", 1)
            found.setdefault((project, instance), []).append(
                {"name": snap, "created_at": volume.get("created_at"), "stateful": False})
    return found


def settled(data: dict[str, Any]) -> bool:
    return data.get("status") != "Error" and bool((data.get("config") or {}).get("volatile.uuid"))
