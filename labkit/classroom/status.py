"""`labkit class status`: one observation for the whole class, graded learner by learner.

The class records its lab (chapter); the chapter and `grade` are those of `labkit check`.  One
all-projects listing of instances serves the whole class (isolation, cluster members); then the
chapter looks at every learner concurrently (observe.py: its own class-wide hook, or its
`observe` per learner, each bounded in time).  What the instructor has seen of
each learner (steps passed, lifecycle events caught by --watch) is kept in one
journal per learner in the class folder, in the learner's own journal format.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from ..errors import LabkitError, UsageError
from ..grading.contract import SNAPSHOT_PARAM
from ..grading.engine import Baseline, Chapter, History, Result, Score, Status, grade
from ..grading.journal import Journal
from ..grading.render import SYMBOLS
from ..i18n import M, Message
from ..incus.client import IncusClient
from ..labs import chapter_named
from ..provision import quotas
from ..servers import SNAPSHOT_SERVER
from .info import ClassInfo
from .members import MEMBER_UNREACHABLE, learner_members, member_down_results, unreachable_members
from .observe import Unobserved, chapter_look, learner_access, observe_learners, requests_pool
from .operations import RunningTasks
from .progress import DEFAULT_STUCK_MINUTES, NOT_STARTED, STARTED, Progress, progress_of, untouched

FOLLOW_UP = 0.4
QUIET = ("instance-file-retrieved",)
TODO = "·"  # failed only because an earlier step is not done: shown apart, counted as failed
# Not the learner's doing: a member down, a look that failed. Named once, never a "most common mistake".
NOT_MISTAKES = (MEMBER_UNREACHABLE, "unobserved")
# One line per learner reset (reset.py), in the class folder: a view that sees it change reads the
# class's baselines and the journals again.
RESETS_FILE = "resets.jsonl"


@dataclass(frozen=True)
class LearnerStatus:
    learner: str
    project: str
    results: list[Result]
    score: Score
    observation: Any  # the chapter's own, or `Unobserved`
    # Nothing of the learner's doing seen yet (progress.py): shown as such, never as mistakes.
    not_started: bool = False
    progress: Progress | None = None

    def shown(self) -> list[str]:
        """The symbol of each step as the views show it."""
        return [display(r, self.not_started) for r in self.results]


@dataclass(frozen=True)
class ClassStatus:
    info: ClassInfo
    chapter: Chapter
    snapshot: str
    learners: list[LearnerStatus]
    taken_at: datetime
    seconds: float
    warnings: tuple[Message, ...] = ()  # promises the class does not keep right now (isolation)
    # On a cluster: each learner's member (the instance's `location`), and the members that did not answer.
    members: dict[str, str] = field(default_factory=dict)
    down: frozenset[str] = frozenset()

    stuck_after: timedelta = timedelta(minutes=DEFAULT_STUCK_MINUTES)
    # When the class's projects (its baselines) were last read: a partial refresh keeps `info` from then.
    listed_at: datetime | None = None

    def counts(self, step: str) -> Counter[str]:
        return Counter(display(ls.results[self.index(step)], ls.not_started) for ls in self.learners)

    def index(self, step: str) -> int:
        return self.chapter.step_ids.index(step)

    def most_common(self, step: str) -> tuple[Result, int] | None:
        """The failure most learners share at this step (not counting “do the earlier step first”)."""
        found = [ls.results[self.index(step)] for ls in self.learners if not ls.not_started]
        found = [r for r in found if not r.passed and display(r) != TODO and r.diagnosis not in NOT_MISTAKES]
        if not found:
            return None
        diagnosis, count = Counter(r.diagnosis for r in found).most_common(1)[0]
        return next(r for r in found if r.diagnosis == diagnosis), count


def display(result: Result, not_started: bool = False) -> str:
    if not_started and not result.passed:
        return NOT_STARTED
    if result.status is Status.FAILED and (result.diagnosis or "").startswith("order:"):
        return TODO
    return SYMBOLS[result.status]


def journal_for(folder: Path, info: ClassInfo, learner: str, chapter: Chapter, snapshot: str) -> Journal:
    return Journal(folder / "journals" / f"{learner}.json", chapter.id, info.learners[learner], info.container,
                   snapshot, chapter.retention)


def journal_of_params(folder: Path, info: ClassInfo, learner: str, chapter: Chapter, params: dict[str, str]) -> Journal:
    """The instructor's journal of a learner, for the chapter's params of a class view."""
    return journal_for(folder, info, learner, chapter, params.get(SNAPSHOT_PARAM, ""))


def history_of(journal: Journal, baseline: Baseline | None) -> History:
    """What the instructor's journal remembers, with the class's own baseline when it holds one."""
    history = journal.history()
    return history if baseline is None else replace(history, baseline=baseline)


def grade_learner(journal: Journal, chapter: Chapter, observation: Any, params: dict[str, str],
                  baseline: Baseline | None = None) -> list[Result]:
    """What `labkit check` does, against the baseline the class holds (a class made before it held one
    falls back on the instance's keys); only changes are journaled."""
    if observation.unobserved is not None:
        return unobserved_results(chapter, observation.unobserved)
    if baseline is None:
        journal.ensure_baseline(observation.instance)
    results = grade(chapter, observation, history_of(journal, baseline), params)
    latest = journal.attempt_view().latest()
    changed = [r for r in results if latest.get(r.step) is not r.status]
    if changed:  # a write is a locked read-modify-write with an fsync: only when something changed
        journal.record_results(changed)
    return results


def unobserved_results(chapter: Chapter, reason: Message) -> list[Result]:
    """Every step “not verified”, saying why; nothing is journaled from a look that did not happen."""
    message = M("class.status.unobserved", "Could not be observed: {reason}", reason=reason)
    return [Result(step.id, Status.NOT_VERIFIED, 0, step.points, message, None, (), "unobserved")
            for step in chapter.steps]


def class_status(*, client: IncusClient, name: str, folder: Path, snapshot: str | None = None,
                 journals: dict[str, Journal] | None = None, lab: str | None = None,
                 previous: ClassStatus | None = None, only: set[str] | None = None,
                 fine_cache: dict[tuple, Any] | None = None, hold: set[str] | frozenset[str] = frozenset(),
                 stuck_after: timedelta | None = None) -> ClassStatus:
    """Grade the whole class with its lab; with `previous` and `only`, look again at those learners alone.
    Learners in `hold` keep their row of `previous` (a task runs in their project: operations.py).

    `lab`, when given, must be the class's own (a class does one lab)."""
    start = time.monotonic()
    stuck_after = stuck_after or (previous.stuck_after if previous else timedelta(minutes=DEFAULT_STUCK_MINUTES))
    journals = {} if journals is None else journals
    instances: list[dict[str, Any]] | None = None
    started_at = datetime.now(timezone.utc)
    # A reset since the class was last listed changed a baseline and closed an attempt on disk.
    reset = previous is not None and reset_since(folder, previous.listed_at or previous.taken_at)
    if reset:
        for journal in journals.values():
            journal.refresh()
    if previous is not None and only is not None and not reset:
        info, warnings, members, down = previous.info, previous.warnings, previous.members, previous.down
        listed_at = previous.listed_at
    else:
        # recursion=1, not 2: a running container's state costs the server 20-30 ms, one after the
        # other (600-1000 ms for 30 learners here), and the checks need none of it.
        listing = requests_pool().submit(client.all_instances, recursion=1)
        listed_at = started_at
        info = ClassInfo.from_projects(name, client.request("GET", "/1.0/projects", params={"recursion": 1},
                                                            project=False) or [])
        instances = listing.result()
    chapter = _chapter_of(info, lab)
    params = info.params(chapter, snapshot)
    snapshot = params.get(SNAPSHOT_PARAM, "")
    # The chapter's look starts here (its own class-wide listings run while the server's state is checked).
    look = chapter_look(chapter, client, params, info.learner_params(), info.learners, instances,
                        {} if fine_cache is None else fine_cache)
    if instances is not None:
        warnings = isolation_warnings(info, instances) + tuple(quotas.check_counted(client, {
            ((i.get("expanded_devices") or {}).get("root") or {}).get("pool") or "" for i in instances
            if i.get("project") in info.learners.values()} - {""}))
        members = learner_members(info, instances)
        down = unreachable_members(client, info, instances, members)
    kept = {ls.learner: ls for ls in previous.learners} if previous else {}
    wanted = [n for n in info.learners if (only is None or previous is None or n in only) and members.get(n) not in down
              and not (n in hold and n in kept)]
    for learner in wanted:
        journals.setdefault(learner, journal_for(folder, info, learner, chapter, snapshot))
    histories = {learner: history_of(journals[learner], info.baseline(learner)) for learner in wanted}
    with SnapshotServerOnce(chapter) as server:
        accesses = {learner: learner_access(client, info.learners[learner], server.opener) for learner in wanted}
        seen = observe_learners(look, accesses, histories)
    learners = []
    for learner in info.learners:
        if members.get(learner) in down:  # nothing journaled: what was seen before stays
            results = member_down_results(chapter, members[learner])
            learners.append(LearnerStatus(learner, info.learners[learner], results, Score.of(results),
                                          Unobserved(None)))
            continue
        if learner not in seen:
            learners.append(kept[learner])
            continue
        observation = seen[learner]
        mine = params | info.learner_params().get(learner, {})
        results = grade_learner(journals[learner], chapter, observation, mine, info.baseline(learner))
        fresh = not_started_yet(journals[learner], chapter, observation, histories[learner], mine, results)
        progress = None if getattr(observation, "unobserved", None) is not None else progress_of(
            results, journals[learner].attempt_view(), fresh, datetime.now(timezone.utc), stuck_after)
        learners.append(LearnerStatus(learner, info.learners[learner], results, Score.of(results), observation, fresh,
                                      progress))
    return ClassStatus(info, chapter, snapshot, learners, datetime.now(timezone.utc), time.monotonic() - start,
                       warnings, members, down, stuck_after, listed_at)


def reset_since(folder: Path, when: datetime) -> bool:
    """Whether a reset was journaled after `when` (a second early: file times may be coarse)."""
    try:
        return (folder / RESETS_FILE).stat().st_mtime >= when.timestamp() - 1
    except OSError:
        return False


def not_started_yet(journal: Journal, chapter: Chapter, observation: Any, history: History,
                         params: dict[str, str], results: list[Result]) -> bool:
    """Whether the learner has not started; the first time they are seen started is journaled."""
    if getattr(observation, "unobserved", None) is not None:
        return False
    if STARTED not in journal.attempt_view().marks:
        if untouched(chapter, observation, history, params, results):
            return True
        journal.record_mark(STARTED)
    return False


def _chapter_of(info: ClassInfo, lab: str | None) -> Chapter:
    if lab and lab != info.lab:
        raise UsageError(M("class.status.other_lab", "The class “{name}” does the lab “{recorded}”, not “{lab}”: leave "
                                                     "out --lab, and its own lab is graded.",
                           name=info.name, recorded=info.lab, lab=lab))
    return chapter_named(info.lab)


class SnapshotServerOnce:
    """labkit's own client on the snapshot server, for a chapter that needs it: opened on the first
    learner's look that asks (never for the first chapter), shared by all, closed after the look.
    A server that cannot be reached makes each learner's look say so (`unobserved`), not the view fail."""

    def __init__(self, chapter: Chapter) -> None:
        self.needed = chapter.needs_server(SNAPSHOT_SERVER)
        self.client: IncusClient | None = None
        self.lock = threading.Lock()

    @property
    def opener(self) -> Callable[[], IncusClient] | None:
        return self._open if self.needed else None

    def _open(self) -> IncusClient:
        from ..provision.second_server import admin_client  # a lab with a snapshot server only

        with self.lock:
            if self.client is None:
                self.client = admin_client("default")
            return self.client

    def __enter__(self) -> SnapshotServerOnce:
        return self

    def __exit__(self, *_: object) -> None:
        if self.client is not None:
            self.client.close()


def isolation_warnings(info: ClassInfo, instances: list[dict[str, Any]]) -> tuple[Message, ...]:
    """Learners' containers that share the host's id range. The project's restriction refuses
    security.idmap.isolated=false, but Incus 6.0.4 does not check an instance that leaves the key
    out (made with no profile, or another profile of the learner's), so we look at every one."""
    learners = {project: learner for learner, project in info.learners.items()}
    found = []
    for inst in instances:
        learner = learners.get(inst.get("project", ""))
        config = inst.get("expanded_config") or {}
        if learner and inst.get("type", "container") == "container" and config.get("security.idmap.isolated") != "true":
            found.append(M(
                "class.status.not_isolated",
                "{learner}: the container “{instance}” (project “{project}”) shares the host's user ids with other "
                "containers (security.idmap.isolated is not true): it was made without the class profile. Delete "
                "it, or look at it with “incus config show {instance} --expanded --project {project}”.",
                learner=learner, instance=inst["name"], project=inst["project"]))
    return tuple(found)


def watch(*, client: IncusClient, name: str, folder: Path, show: Callable[[ClassStatus], None],
          snapshot: str | None = None, seconds: float | None = None, every: float = 5.0, lab: str | None = None,
          stuck_after: timedelta | None = None) -> None:
    """Refresh on every lifecycle event of the class's projects (and every few seconds, for files)."""
    from ..incus.events import connect, journal_entry

    journals: dict[str, Journal] = {}
    fine_cache: dict[tuple, Any] = {}  # one exec per same-second tie: each exec sends an event
    status = class_status(client=client, name=name, folder=folder, snapshot=snapshot, journals=journals,
                          fine_cache=fine_cache, lab=lab, stuck_after=stuck_after)
    show(status)
    projects = {project: learner for learner, project in status.info.learners.items()}
    inbox: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
    tasks = RunningTasks(projects)
    socket = connect(client.endpoint, all_projects=True, types="lifecycle,operation")

    def listen() -> None:
        try:
            for raw in socket:
                event = json.loads(raw)
                if event.get("type") == "operation":
                    ended = tasks.update(event)
                    if ended:
                        inbox.put((ended, {}))  # its files may be looked at again
                    continue
                learner = projects.get(event.get("project", ""))
                if (event.get("metadata") or {}).get("action") in QUIET:
                    continue  # our own file checks emit these: refreshing on them would loop
                entry = learner and journal_entry(event, status.info.container, event["project"])
                if learner:
                    inbox.put((learner, entry or {}))
        except Exception:
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
                item = inbox.get(timeout=pause if deadline is None
                                 else max(0.0, min(pause, deadline - time.monotonic())))
            except queue.Empty:
                item = ()
            if item is None:
                break
            if item:
                time.sleep(0.05)  # events come in bursts (stop, restore, start)
                batch = [item, *_drain(inbox)]
                entries: dict[str, list[dict[str, Any]]] = {}
                for learner, entry in batch:
                    if entry:
                        entries.setdefault(learner, []).append(entry)
                for learner, found in entries.items():  # one journal write per learner, however many events
                    # A learner whose member was down had no journal opened yet: the member is back.
                    journals.setdefault(learner, journal_for(folder, status.info, learner, status.chapter,
                                                             status.snapshot)).record_events(found)
                only: set[str] | None = {learner for learner, _ in batch}
                busy |= only
            elif busy:  # an exec is announced when it starts: look again for what it did
                only, busy = busy, set()
            else:  # every few seconds, everyone (a file made inside “incus shell” sends no event)
                only = None
            held = tasks.busy()  # a task running in their project: not looked at (operations.py says why)
            if only is not None:
                only -= held  # the task's end is an event: they are looked at then
                if not only:
                    continue
            try:
                # The full refresh still lists the whole class (warnings, members, instances): only the
                # held learners keep their previous row.
                status = class_status(client=client, name=name, folder=folder, snapshot=snapshot, journals=journals,
                                      previous=status if only is not None or held else None, only=only,
                                      fine_cache=fine_cache, hold=held, stuck_after=stuck_after)
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
