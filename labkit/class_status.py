"""`labkit class status`: one observation for the whole class, graded learner by learner.

The chapter and `grade` are those of `labkit check`; only the observation is
gathered differently: one all-projects listing (status and config of every
instance), then each learner's snapshots and file checks, concurrently.  What the instructor has seen of
each learner (steps passed, lifecycle events caught by --watch) is kept in one
journal per learner in the class folder, in the learner's own journal format.
"""
from __future__ import annotations

import copy
import json
import queue
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .class_spec import CLASS_KEY, CONTAINER_KEY, LEARNER_KEY, ROLE_KEY
from .engine import Chapter, Result, Score, Status, grade
from .errors import IncusRequestFailed, LabkitError, UsageError
from .i18n import M
from .incus import IncusClient
from .journal import Journal
from .labs import CHAPTERS
from .observation import Observation, build_observation, look_elsewhere
from .render import SYMBOLS

# Two pools: learners wait on requests, requests never wait, so neither can starve the other.
_LEARNERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="labkit-class")
_REQUESTS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="labkit-class-io")
FOLLOW_UP = 0.4
RETRIES = 30  # × 0.1 s: longer than a clean stop takes
QUIET = ("instance-file-retrieved",)
TODO = "·"  # failed only because an earlier step is not done: shown apart, counted as failed
MEMBER_UNREACHABLE = "member-unreachable"  # not a learner's mistake: reported once per member, not per step


@dataclass(frozen=True)
class ClassInfo:
    name: str
    container: str
    learners: dict[str, str]  # learner -> project

    @classmethod
    def from_projects(cls, name: str, projects: list[dict[str, Any]]) -> ClassInfo:
        mine = [p for p in projects if (p.get("config") or {}).get(CLASS_KEY) == name]
        head = next((p for p in mine if p["config"].get(ROLE_KEY) == "class"), None)
        learners = {p["config"][LEARNER_KEY]: p["name"] for p in mine if p["config"].get(ROLE_KEY) == "learner"}
        if head is None and not learners:
            raise UsageError(M("class.status.unknown", "There is no class “{name}” on this server (no project carries user.labkit.class={name}). Create it with “labkit class create {name} --learners N”.", name=name))
        container = (head or {}).get("config", {}).get(CONTAINER_KEY, "ubuntu-test")
        return cls(name, container, dict(sorted(learners.items())))


@dataclass(frozen=True)
class LearnerStatus:
    learner: str
    project: str
    results: list[Result]
    score: Score
    observation: Observation


@dataclass(frozen=True)
class ClassStatus:
    info: ClassInfo
    chapter: Chapter
    snapshot: str
    learners: list[LearnerStatus]
    taken_at: datetime
    seconds: float
    # On a cluster: each learner's member (the instance's `location`), and the members that did not answer.
    members: dict[str, str] = field(default_factory=dict)
    down: frozenset[str] = frozenset()

    def counts(self, step: str) -> Counter[str]:
        return Counter(display(ls.results[self.index(step)]) for ls in self.learners)

    def index(self, step: str) -> int:
        return self.chapter.step_ids.index(step)

    def most_common(self, step: str) -> tuple[Result, int] | None:
        """The failure most learners share at this step (not counting “do the earlier step first”)."""
        found = [ls.results[self.index(step)] for ls in self.learners]
        found = [r for r in found if not r.passed and display(r) != TODO and r.diagnosis != MEMBER_UNREACHABLE]
        if not found:
            return None
        diagnosis, count = Counter(r.diagnosis for r in found).most_common(1)[0]
        return next(r for r in found if r.diagnosis == diagnosis), count


def display(result: Result) -> str:
    if result.status is Status.FAILED and (result.diagnosis or "").startswith("order:"):
        return TODO
    return SYMBOLS[result.status]


def in_project(client: IncusClient, project: str) -> IncusClient:
    """The same client (and connection pool), addressing another project."""
    view = copy.copy(client)
    view.project = project
    return view


def observe_class(client: IncusClient, info: ClassInfo, snapshot: str, file_path: str,
                  instances: list[dict[str, Any]] | None, learners: list[str] | None = None) -> dict[str, Observation]:
    """Every learner from one all-projects listing (or, for a few, one request each), plus their
    snapshots and file checks, concurrently."""
    taken_at = datetime.now(timezone.utc)
    listed = {(i.get("project"), i["name"]): i for i in instances or []}

    def one(learner: str) -> Observation:
        project = info.learners[learner]
        view = in_project(client, project)
        data = listed.get((project, info.container)) if instances is not None else _instance(view, info.container)
        for attempt in range(RETRIES + 1):
            if data is None:
                return build_observation(info.container, snapshot, file_path, None, [], None, taken_at=taken_at)
            try:
                if settled(data):
                    snapshots, found = (f.result() for f in [_REQUESTS.submit(view.snapshots, info.container),
                                                             _REQUESTS.submit(view.file_info, info.container, file_path)])
                    elsewhere = look_elsewhere(view, _REQUESTS, info.container, file_path) if found is None else ()
                    return build_observation(info.container, snapshot, file_path, data, snapshots, found, elsewhere, taken_at)
            except IncusRequestFailed:
                if attempt == RETRIES:
                    raise
            # A stopping instance is listed as “Error” without config, and answers 500 to file
            # requests, for a moment: look at it alone again (the other learners are not held up).
            time.sleep(0.1)
            data = _instance(view, info.container)
        raise IncusRequestFailed(M("class.status.unsettled", "The instance of {learner} (project “{project}”) does not settle: Incus reports it as “{status}”. Look at it with “incus info {container} --project {project} --show-log”.", learner=learner, project=project, status=data.get("status", "?"), container=info.container))

    wanted = list(info.learners) if learners is None else learners
    return dict(zip(wanted, _LEARNERS.map(one, wanted)))


def settled(data: dict[str, Any]) -> bool:
    return data.get("status") != "Error" and bool((data.get("config") or {}).get("volatile.uuid"))


def _instance(view: IncusClient, container: str) -> dict[str, Any] | None:
    """One instance, as the all-projects request gives it (None once deleted)."""
    return view.instance_or_none(container)


def journal_for(folder: Path, info: ClassInfo, learner: str, chapter: Chapter, snapshot: str) -> Journal:
    return Journal(folder / "journals" / f"{learner}.json", chapter.id, info.learners[learner], info.container, snapshot)


def grade_learner(journal: Journal, chapter: Chapter, observation: Observation, params: dict[str, str]) -> list[Result]:
    """Exactly what `labkit check` does (the baseline recorded in the instance wins); only changes are journaled."""
    journal.ensure_baseline(observation.instance)
    results = grade(chapter, observation, journal.history(), params)
    latest = {c["step"]: c["status"] for c in journal.data.get("checks", [])}
    journal.record_results([r for r in results if latest.get(r.step) != r.status.value])
    return results


def class_status(*, client: IncusClient, name: str, folder: Path, snapshot: str | None = None,
                 journals: dict[str, Journal] | None = None, lab: str = "snapshots",
                 previous: ClassStatus | None = None, only: set[str] | None = None) -> ClassStatus:
    """Grade the whole class; with `previous` and `only`, look again at those learners alone."""
    start = time.monotonic()
    chapter = CHAPTERS[lab]
    snapshot = snapshot or chapter.defaults["snapshot"]
    if previous is not None and only is not None:
        info, members, down = previous.info, previous.members, previous.down
        wanted = [n for n in info.learners if n in only and members.get(n) not in down]
        seen = observe_class(client, info, snapshot, chapter.defaults["file"], None, wanted)
    else:
        # recursion=1, not 2: a running container's state costs the server 20-30 ms, one after the
        # other (600-1000 ms for 30 learners here), and the checks need none of it.
        instances = _REQUESTS.submit(client.all_instances, recursion=1)
        info = ClassInfo.from_projects(name, client.request("GET", "/1.0/projects", params={"recursion": 1}, project=False) or [])
        listing = instances.result()
        members = learner_members(info, listing)
        down = unreachable_members(client, info, listing, members)
        wanted = [n for n in info.learners if members.get(n) not in down]
        seen = observe_class(client, info, snapshot, chapter.defaults["file"], listing, wanted)
    journals = {} if journals is None else journals
    kept = {ls.learner: ls for ls in previous.learners} if previous else {}
    params = {"container": info.container, "snapshot": snapshot}
    learners = []
    for learner in info.learners:
        if members.get(learner) in down:  # nothing journaled: what was seen before stays
            results = unobserved_results(chapter, members[learner])
            nothing = build_observation(info.container, snapshot, chapter.defaults["file"], None, [], None)
            learners.append(LearnerStatus(learner, info.learners[learner], results, Score.of(results), nothing))
            continue
        if learner not in seen:
            learners.append(kept[learner])
            continue
        observation = seen[learner]
        journal = journals.setdefault(learner, journal_for(folder, info, learner, chapter, snapshot))
        results = grade_learner(journal, chapter, observation, params)
        learners.append(LearnerStatus(learner, info.learners[learner], results, Score.of(results), observation))
    return ClassStatus(info, chapter, snapshot, learners, datetime.now(timezone.utc), time.monotonic() - start,
                       members, down)


# -- on a cluster ------------------------------------------------------------
MEMBER_PROBE = 3.0  # seconds: a member that does not answer the leader this fast is reported, not waited for
MEMBER_DOWN = M("class.status.member_down",
                "Not observed: the cluster member {member} that holds this learner's instance does not answer. "
                "What was seen before is kept; the next refresh looks again.")


def learner_members(info: ClassInfo, listing: list[dict[str, Any]]) -> dict[str, str]:
    """Learner → cluster member holding their instance (empty on a server that is not clustered)."""
    where = {(i.get("project"), i["name"]): i.get("location") or "" for i in listing}
    found = {learner: where.get((project, info.container), "") for learner, project in info.learners.items()}
    return {learner: member for learner, member in found.items() if member and member != "none"}


def unreachable_members(client: IncusClient, info: ClassInfo, listing: list[dict[str, Any]],
                        members: dict[str, str]) -> frozenset[str]:
    """Members holding a learner's instance that do not answer.

    The member we talk to lists another member's instances as “Error” without config when it cannot
    reach it (a stopping instance looks the same for a moment, hence the probe), and says “Offline”
    once heartbeats have failed (about 20 s later).  One short request per suspect member, at once."""
    if not members:
        return frozenset()
    projects = set(info.learners.values())
    suspects = {i.get("location") for i in listing if i.get("project") in projects and i.get("status") == "Error"
                and not i.get("config")} & set(members.values())
    states = client.request("GET", "/1.0/cluster/members", params={"recursion": 1}, project=False) or []
    suspects |= {m["server_name"] for m in states if m.get("status") != "Online"} & set(members.values())
    probes = {member: _REQUESTS.submit(_member_answers, client, member) for member in suspects}
    return frozenset(member for member, probe in probes.items() if not probe.result())


def _member_answers(client: IncusClient, member: str) -> bool:
    try:
        client.request("GET", "/1.0", params={"target": member}, project=False, timeout=MEMBER_PROBE)
        return True
    except LabkitError:
        return False


def unobserved_results(chapter: Chapter, member: str) -> list[Result]:
    message = MEMBER_DOWN.bind(member=member)
    return [Result(step.id, Status.NOT_VERIFIED, 0, step.points, message, diagnosis=MEMBER_UNREACHABLE)
            for step in chapter.steps]


def watch(*, client: IncusClient, name: str, folder: Path, show: Callable[[ClassStatus], None],
          snapshot: str | None = None, seconds: float | None = None, every: float = 5.0) -> None:
    """Refresh on every lifecycle event of the class's projects (and every few seconds, for files)."""
    from .events import connect, journal_entry

    journals: dict[str, Journal] = {}
    status = class_status(client=client, name=name, folder=folder, snapshot=snapshot, journals=journals)
    show(status)
    projects = {project: learner for learner, project in status.info.learners.items()}
    inbox: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
    socket = connect(client.endpoint, all_projects=True)

    def listen() -> None:
        try:
            for raw in socket:
                event = json.loads(raw)
                learner = projects.get(event.get("project", ""))
                if (event.get("metadata") or {}).get("action") in QUIET:
                    continue  # our own file checks emit these: refreshing on them would loop
                entry = learner and journal_entry(event, status.info.container, event["project"])
                if learner:
                    inbox.put((learner, entry or {}))
        except Exception:  # noqa: BLE001 - closed by us, or the daemon went away
            pass
        inbox.put(None)

    threading.Thread(target=listen, name="labkit-class-events", daemon=True).start()
    deadline = None if seconds is None else time.monotonic() + seconds
    busy: set[str] = set()  # learners with recent events, looked at once more a moment later
    full_at = time.monotonic()
    try:
        while deadline is None or time.monotonic() < deadline:
            pause = FOLLOW_UP if busy else max(0.0, every - (time.monotonic() - full_at))
            try:
                item = inbox.get(timeout=pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            except queue.Empty:
                item = ()
            if item is None:
                break
            if item:
                time.sleep(0.05)  # events come in bursts (stop, restore, start)
                batch = [item, *_drain(inbox)]
                for learner, entry in batch:
                    if entry:
                        journals[learner].record_events([entry])
                only: set[str] | None = {learner for learner, _ in batch}
                busy |= only
            elif busy:  # an exec is announced when it starts: look again for what it did
                only, busy = busy, set()
            else:  # every few seconds, everyone (a file made inside “incus shell” sends no event)
                only = None
            try:
                status = class_status(client=client, name=name, folder=folder, snapshot=snapshot, journals=journals,
                                      previous=status if only is not None else None, only=only)
            except LabkitError:
                continue  # a refresh that failed (an instance stuck mid-stop): the next event or tick tries again
            if only is None:
                full_at = time.monotonic()
            show(status)
    finally:
        socket.close()


def _drain(inbox: queue.Queue) -> list[tuple[str, dict[str, Any]]]:
    items = []
    while True:
        try:
            item = inbox.get_nowait()
        except queue.Empty:
            return items
        if item is not None:
            items.append(item)
