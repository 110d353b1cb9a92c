"""What a class view looks at, learner by learner, with every cost bounded.

Three listings for the whole class (instances, projects, snapshot volumes), then per learner
at most one file request, and only where it can change a verdict: a few HEADs for a misplaced
file, one short exec in a same-second tie.  A learner whose look fails or takes too long gets
an observation that says why (`unobserved`); the others are graded as usual.
"""
from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..grading.engine import History
from ..errors import IncusRequestFailed, LabkitError
from ..i18n import M, Message
from ..incus.client import IncusClient
from ..labs.snapshots_observe import Observation, build_observation, fine_file_time, look_elsewhere, same_second

if TYPE_CHECKING:
    from .status import ClassInfo

# Two pools: learners wait on requests, requests never wait, so neither can starve the other.
LEARNERS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="labkit-class")
REQUESTS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="labkit-class-io")
RETRIES = 30  # × 0.1 s: longer than a clean stop takes
# One learner's look is bounded: a request that hangs (a wedged instance) makes that learner
# “could not be observed”, never the whole class late or failed.
REQUEST_SECONDS = 4.0
LEARNER_SECONDS = 6.0


def in_project(client: IncusClient, project: str) -> IncusClient:
    """The same client (and connection pool), addressing another project."""
    view = copy.copy(client)
    view.project = project
    return view


def observe_class(client: IncusClient, info: ClassInfo, snapshot: str, file_path: str,
                  instances: list[dict[str, Any]] | None, learners: list[str] | None = None, *,
                  snapshots: dict[tuple[str, str], list[dict[str, Any]]] | None = None,
                  histories: dict[str, History] | None = None,
                  fine_cache: dict[tuple, Any] | None = None) -> dict[str, Observation]:
    """Every learner from one all-projects listing (or, for a few, one request each), their snapshots
    from one volume listing per pool (or one request each), plus one file check each, concurrently.

    A learner whose look fails or outlasts LEARNER_SECONDS gets an observation that says why
    (`unobserved`); the others are graded as usual."""
    taken_at = datetime.now(timezone.utc)
    listed = {(i.get("project"), i["name"]): i for i in instances or []}
    histories = histories or {}
    fine_cache = {} if fine_cache is None else fine_cache

    def one(learner: str) -> Observation:
        project = info.learners[learner]
        view = in_project(client, project)
        view.timeout = REQUEST_SECONDS
        data = listed.get((project, info.container)) if instances is not None else _instance(view, info.container)
        for attempt in range(RETRIES + 1):
            if data is None:
                return build_observation(info.container, snapshot, file_path, None, [], None, taken_at=taken_at)
            try:
                if settled(data):
                    known = None if snapshots is None or _stateful(data) else snapshots.get((project, info.container), [])
                    return _look(view, info.container, snapshot, file_path, data, known, histories.get(learner),
                                 fine_cache, taken_at)
            except IncusRequestFailed:
                if attempt == RETRIES:
                    raise
            # A stopping instance is listed as “Error” without config, and answers 500 to file
            # requests, for a moment: look at it alone again (the other learners are not held up).
            time.sleep(0.1)
            data = _instance(view, info.container)
        raise IncusRequestFailed(M("class.status.unsettled", "The instance of {learner} (project “{project}”) does not settle: Incus reports it as “{status}”. Look at it with “incus info {container} --project {project} --show-log”.", learner=learner, project=project, status=data.get("status", "?"), container=info.container))

    wanted = list(info.learners) if learners is None else learners
    jobs = {learner: LEARNERS.submit(one, learner) for learner in wanted}
    wait(jobs.values(), timeout=LEARNER_SECONDS)
    seen = {}
    for learner, job in jobs.items():
        reason = _failure(job)
        seen[learner] = job.result() if reason is None else Observation(
            info.container, snapshot, file_path, None, taken_at=taken_at, unobserved=reason)
    return seen


def _failure(job: Any) -> Message | None:
    """Why a learner's look gave no observation, or None when it did."""
    if not job.done():
        return M("class.status.too_slow", "no answer within {seconds} s", seconds=int(LEARNER_SECONDS))
    exc = job.exception()
    if exc is None:
        return None
    if isinstance(exc, LabkitError):
        return exc.message
    return M("class.status.look_failed", "{detail}", detail=f"{type(exc).__name__}: {exc}")


def _look(view: IncusClient, container: str, snapshot: str, file_path: str, data: dict[str, Any],
          known: list[dict[str, Any]] | None, history: History | None, fine_cache: dict[tuple, Any],
          taken_at: datetime) -> Observation:
    """One learner's snapshots (unless known) and file, then only if they matter: a few HEADs for a
    misplaced file, and the file's finer time in a same-second tie (once per tie: an exec is an event)."""
    if known is None:
        listing, found = (f.result() for f in [REQUESTS.submit(view.snapshots, container),
                                                REQUESTS.submit(view.file_info, container, file_path)])
    else:
        listing = known
        found = view.file_info(container, file_path) if file_matters(data, listing, snapshot, history) else None
    elsewhere: tuple[str, ...] = ()
    if found is None and elsewhere_matters(data, listing, snapshot, history):
        elsewhere = look_elsewhere(view, REQUESTS, container, file_path)
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
        base is not None and base.uuid == config.get("volatile.uuid") and base.generation != config.get("volatile.uuid.generation"))


def file_matters(data: dict[str, Any], listing: list[dict[str, Any]], snapshot: str, history: History | None) -> bool:
    """Whether the file can change any verdict. Before the snapshot step can pass, with no touch and no
    restore ever seen, every step that looks at the file first asks for the snapshot (check_touch, then
    stop, restore, verify in turn), so a class at its start costs no file request. Only with a baseline
    held by the class: otherwise the keys decide the restore, after this look."""
    if history is None or history.baseline is None:
        return True
    return _snapped(listing, snapshot, history) or "touch" in history.passed or _restored(data, history)


def elsewhere_matters(data: dict[str, Any], listing: list[dict[str, Any]], snapshot: str, history: History | None) -> bool:
    """Whether a misplaced file could change the touch step's verdict (see check_touch): not before
    the snapshot step can pass, nor once a restore is proven."""
    history = history or History()
    return _snapped(listing, snapshot, history) and not _restored(data, history)


def _stateful(data: dict[str, Any]) -> bool:
    # A volume listing does not say whether a snapshot holds memory; such instances are asked directly.
    return (data.get("expanded_config") or data.get("config") or {}).get("migration.stateful") == "true"


def all_volumes(client: IncusClient) -> list[dict[str, Any]]:
    """Every volume of every pool and project: a few milliseconds per pool, asked at once with the
    instance listing (a pool per instance would cost a round trip more)."""
    pools = client.request("GET", "/1.0/storage-pools", project=False) or []
    jobs = [REQUESTS.submit(client.request, "GET", f"{pool}/volumes", project=False,
                             params={"recursion": 1, "all-projects": "true"}) for pool in pools]
    return [volume for job in jobs for volume in job.result() or []]


def snapshots_by_instance(volumes: list[dict[str, Any]], projects: set[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
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


def _instance(view: IncusClient, container: str) -> dict[str, Any] | None:
    """One instance, as the all-projects request gives it (None once deleted)."""
    return view.instance_or_none(container)
