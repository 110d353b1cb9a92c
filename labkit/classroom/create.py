"""Training sessions: one isolated lab per learner on a shared Incus server.

A class NAME is a project NAME holding a golden instance, and per learner a
restricted project NAME-LEARNER (snapshots allowed, limits) with a copy of the
golden instance and a client certificate restricted to that project.  Every
project carries `user.labkit.class=NAME`: that is how a re-run finds what it made
(and completes it) and how `destroy` finds what to remove.  Everything goes
through the Incus API, so a cluster works the same (`targets` spread learners).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote

from ..errors import IncusRequestFailed, LabkitError, SetupError, UsageError
from ..i18n import M, Message, Number
from ..incus import certs, instances
from ..incus.client import IncusClient
from ..keys import (
    CERT_KEY,
    CLASS_KEY,
    CONTAINER_KEY,
    IMAGE_KEY,
    LAB_KEY,
    LEARNER_KEY,
    LEARNERS_KEY,
    LIMITS_KEY,
    LISTEN_KEY,
    LISTEN_OWNER_KEY,
    ROLE_KEY,
    TRUST_KEY,
)
from ..labs.baseline import BASELINE_GENERATION, BASELINE_UUID, baseline_config
from ..provision import quotas
from ..provision.image import default_image
from ..provision.storage import default_pool, ensure_root_disk
from .projects import ensure_project, update_project
from .server_kinds import KINDS, kinds_for
from .server_side import OpenSide
from .spec import ClassSpec

GOLDEN = "golden"
WORKERS = 8
# Every learner at once, up to this many: the copies are made one at a time (see _ensure_learner),
# so with fewer learners in flight than that the copies wait on learners still booting.
LEARNER_WORKERS = 32
_COPYING = threading.Lock()
Progress = Callable[[Message], None]


@dataclass
class ServerState:
    """What the server holds, read once (four requests) before planning or acting."""

    projects: dict[str, dict[str, Any]]
    instances: dict[tuple[str, str], str]
    certificates: list[dict[str, Any]]
    config: dict[str, Any]
    certificate_pem: str = ""

    def class_projects(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self.projects.values() if (p.get("config") or {}).get(CLASS_KEY) == name]

    def certificates_of(self, name: str, learner: str | None = None) -> list[dict[str, Any]]:
        prefix = f"labkit:{name}:" + (learner or "")
        return [c for c in self.certificates
                if c.get("name") == prefix or (learner is None and c.get("name", "").startswith(prefix))]


def read_state(client: IncusClient) -> ServerState:
    get = lambda path, **params: client.request("GET", path, params=params, project=False) or []  # noqa: E731
    server = client.server()
    return ServerState({p["name"]: p for p in get("/1.0/projects", recursion=1)},
                       {(i.get("project", "default"), i["name"]): i["status"]
                        for i in get("/1.0/instances", recursion=1, **{"all-projects": "true"})},
                       get("/1.0/certificates", recursion=1), server.get("config") or {},
                       (server.get("environment") or {}).get("certificate", ""))


def check_ownership(spec: ClassSpec, state: ServerState) -> None:
    """Refuse to touch a project that exists but was not made for this class."""
    wanted = {spec.class_project: ("class", None)} | {spec.project(n): ("learner", n) for n in spec.learners}
    foreign = []
    for project, (role, learner) in wanted.items():
        config = (state.projects.get(project) or {}).get("config")
        if config is None:
            continue
        if (config.get(CLASS_KEY) != spec.name or config.get(ROLE_KEY) != role
                or (learner and config.get(LEARNER_KEY) != learner)):
            foreign.append(project)
    if foreign:
        raise UsageError(M("class.create.foreign_projects", "These Incus projects already exist and do not belong to "
                                                            "the class “{name}”: {projects}. labkit never changes "
                                                            "them: choose another class name, or remove them "
                                                            "yourself if they are left over.",
                           name=spec.name, projects=", ".join(sorted(foreign))))


def plan(*, client: IncusClient, spec: ClassSpec, state: ServerState | None = None) -> list[Message]:
    """What `create` would do now, one line per action (nothing already done is listed)."""
    state = state or read_state(client)
    check_ownership(spec, state)
    todo: list[Message] = []
    if spec.class_project not in state.projects:
        todo.append(M("class.plan.class_project", "Create the project “{project}”, which holds the golden instance.",
                      project=spec.class_project))
    if (spec.class_project, GOLDEN) not in state.instances:
        todo.append(M("class.plan.golden", "Build the golden instance “{golden}” from {image}, "
                                           "boot it once and stop it.",
                      golden=GOLDEN, image=spec.image or default_image(client)))
    if spec.listen and state.config.get("core.https_address") != spec.listen:
        todo.append(M("class.plan.listen", "Listen for learners on {address} (core.https_address).",
                      address=spec.listen))
    limits = spec.limits
    for learner in spec.learners:
        project = spec.project(learner)
        if project not in state.projects:
            todo.append(M("class.plan.project", "{learner}: create the restricted project “{project}” (snapshots "
                                                "allowed; at most {instances} instances, {disk} of disk, {memory} of "
                                                "memory, {processes} processes).",
                          learner=learner, project=project, instances=limits.instances, disk=limits.disk,
                          memory=limits.memory, processes=limits.processes))
        if (project, spec.container) not in state.instances:
            todo.append(M("class.plan.copy", "{learner}: copy the golden instance to “{container}” in "
                                             "“{project}” and start it.",
                          learner=learner, container=spec.container, project=project))
        if (not state.certificates_of(spec.name, learner)
                or not certs.ClientCert(spec.bundle(learner) / "client.crt",
                                        spec.bundle(learner) / "client.key").exists()):
            todo.append(M("class.plan.certificate", "{learner}: create a client certificate restricted to “{project}”, "
                                                    "and the access folder {folder}.",
                          learner=learner, project=project, folder=str(spec.bundle(learner))))
    return todo + [line for kind in kinds_for(spec.lab) for line in kind.plan(spec)]


@dataclass
class Created:
    spec: ClassSpec
    ready: list[str] = field(default_factory=list)
    address: str | None = None
    seconds: float = 0.0
    # server id -> learner -> the `incus remote add` line of their token there (None: already trusted).
    remote_lines: dict[str, dict[str, str | None]] = field(default_factory=dict)


def create(*, client: IncusClient, spec: ClassSpec, lang: str, progress: Progress | None = None) -> Created:
    """Create the class, or complete it: every step first looks at what is there."""
    say = progress or (lambda message: None)
    start = time.monotonic()
    state = read_state(client)
    check_ownership(spec, state)
    with ExitStack() as opened:
        # Before anything is made here: a class cannot go without a server its lab needs.
        there: dict[str, OpenSide] = {}
        for kind in kinds_for(spec.lab):
            there[kind.server.id] = side = kind.open_for(spec)
            opened.callback(side.close)
        return _create(client, spec, state, there, lang, say, start)


def _create(client: IncusClient, spec: ClassSpec, state: ServerState, there: dict[str, OpenSide],
            lang: str, say: Progress, start: float) -> Created:
    pool = spec.pool or default_pool(client)
    quotas.ensure_counted(client, pool)  # before any copy: root sizes must hold from the start
    _ensure_class_project(client, spec, state, pool)
    _ensure_golden(client, spec, state, say)
    address = _ensure_listener(client, spec, state)
    done = Created(spec, address=address)
    failures: dict[str, LabkitError] = {}
    fresh = any((spec.project(learner), spec.container) not in state.instances for learner in spec.learners)
    architecture = _golden_architecture(client, spec) if fresh else ""
    with ThreadPoolExecutor(max_workers=max(1, min(LEARNER_WORKERS, len(spec.learners)))) as workers:
        # Every copy before any start: a btrfs copy commits the pool's transaction, which costs little
        # on an idle pool and a great deal while containers boot and write.
        copied = {workers.submit(_prepare_learner, client, spec, state, learner, index, pool, architecture): learner
                  for index, learner in enumerate(spec.learners)}
        for job in as_completed(copied):
            try:
                job.result()
            except LabkitError as exc:
                failures[copied[job]] = exc
        jobs = {workers.submit(_ensure_learner, client, spec, state, learner, index, pool, address, lang, there,
                               architecture, True): learner
                for index, learner in enumerate(spec.learners) if learner not in failures}
        for job in as_completed(jobs):
            learner = jobs[job]
            try:
                for server, line in job.result().items():
                    done.remote_lines.setdefault(server, {})[learner] = line
            except LabkitError as exc:
                failures[learner] = exc
                continue
            except OSError as exc:  # writing the access folder, on the instructor's side
                failures[learner] = SetupError(M("class.create.folder_failed",
                                                 "The access folder of {learner} could not be "
                                                 "written in {folder}: {detail}",
                                                 learner=learner, folder=str(spec.bundle(learner)),
                                                 detail=exc.strerror or str(exc)))
                continue
            done.ready.append(learner)
            say(M("class.progress.learner", "{learner} ready ({count}/{total}).", learner=learner,
                  count=len(done.ready), total=len(spec.learners)))
    done.seconds = time.monotonic() - start
    if failures:
        raise _incomplete(spec, failures, len(done.ready), pool)
    return done


def _incomplete(spec: ClassSpec, failures: dict[str, LabkitError], ready: int, pool: str) -> SetupError:
    """One message for the whole run: the likeliest cause first (full disk, exhausted inotify)."""
    full = next((str(exc) for exc in failures.values()
                 if _disk_full(str(exc)) and exc.message.key != "class.create.folder_failed"), None)
    known = next((exc.message for exc in failures.values() if exc.message.key == "class.create.inotify"), None)
    reason = (M("class.create.disk_full", "The storage pool “{pool}” is full ({detail}). Free some space, or choose "
                                          "another pool with --pool.", pool=pool, detail=full)
              if full else known or next(iter(failures.values())).message)
    return SetupError(M("class.create.incomplete", "{failed} of {total} learners could not be prepared ({learners}); "
                                                   "{ready} are ready. {reason} What was made is kept: run “labkit "
                                                   "class create {name}” again to complete the class, or remove it "
                                                   "with “labkit class destroy {name}”.",
                        failed=len(failures), total=len(spec.learners), learners=", ".join(sorted(failures)),
                        ready=ready, reason=reason, name=spec.name))


def _disk_full(text: str) -> bool:
    text = text.lower()
    return "no space left on device" in text or "disk quota exceeded" in text or "enospc" in text


def image_source(image: str) -> dict[str, Any]:
    if image.startswith("images:"):
        return {"type": "image", "mode": "pull", "server": "https://images.linuxcontainers.org",
                "protocol": "simplestreams", "alias": image.split(":", 1)[1]}
    if len(image) >= 12 and all(c in "0123456789abcdef" for c in image):
        return {"type": "image", "fingerprint": image}
    return {"type": "image", "alias": image}


def _ensure_class_project(client: IncusClient, spec: ClassSpec, state: ServerState, pool: str) -> None:
    known = [n for n in ((state.projects.get(spec.class_project) or {}).get("config") or {}).get(LEARNERS_KEY, "")
             .split(",") if n]
    config = {CLASS_KEY: spec.name, ROLE_KEY: "class", LAB_KEY: spec.lab, CONTAINER_KEY: spec.container,
              LIMITS_KEY: spec.limits.to_text(), LEARNERS_KEY: ",".join(dict.fromkeys([*known, *spec.learners])),
              "features.images": "false", "features.profiles": "true"}
    if spec.image:
        config[IMAGE_KEY] = spec.image
    ensure_project(client, state, spec.class_project, config, f"labkit class {spec.name}")
    ensure_root_disk(client, pool, project=spec.class_project, exact=True)


def _ensure_golden(client: IncusClient, spec: ClassSpec, state: ServerState, say: Progress) -> None:
    project, started = spec.class_project, time.monotonic()
    if (project, GOLDEN) in state.instances:
        return
    image = spec.image or default_image(client)
    params = {"project": project} | ({"target": spec.targets[0]} if spec.targets else {})
    try:
        client.request("POST", "/1.0/instances", params=params, timeout=600,
                       json={"name": GOLDEN, "type": "container", "source": image_source(image)})
        _start(client, project, GOLDEN)
        _stop(client, project, GOLDEN)
    except IncusRequestFailed as exc:
        raise SetupError(M("class.create.golden_failed", "The golden instance could not be built from {image}: "
                                                         "{detail}. Check the image (“incus image list”, or --image), "
                                                         "then run the command again.",
                           image=image, detail=str(exc))) from exc
    say(M("class.progress.golden", "Golden instance built from {image} ({seconds} s).", image=image,
          seconds=Number(time.monotonic() - started)))


def _start(client: IncusClient, project: str, name: str) -> None:
    try:
        instances.change_state(client, name, "start", project)
        instances.wait_booted(client, name, project)
    except IncusRequestFailed:
        console = client.raw("GET", f"/1.0/instances/{quote(name)}/console", params={"project": project}).text
        if "Too many open files" in console:  # systemd could not get an inotify instance
            raise SetupError(M("class.create.inotify",
                               "The server has run out of inotify instances: a container's init stopped with “Too many "
                               "open files”. Each running container needs a few, and Linux allows 128 per user by "
                               "default. On the server, as root, run "
                               "“sysctl -w fs.inotify.max_user_instances=1024 fs.inotify.max_user_watches=1048576” "
                               "(and put these settings in /etc/sysctl.d/ to keep them), as Incus recommends for "
                               "production servers.")) from None
        raise


def _golden_architecture(client: IncusClient, spec: ClassSpec) -> str:
    """A copy to another cluster member is a migration, which Incus refuses without the architecture
    (“Architecture isn't supported: ”); the official client always sends the source's."""
    golden = client.request("GET", f"/1.0/instances/{GOLDEN}", params={"project": spec.class_project}) or {}
    return str(golden.get("architecture") or "")


def _stop(client: IncusClient, project: str, name: str) -> None:
    instances.change_state(client, name, "stop", project, force=True)


def _ensure_listener(client: IncusClient, spec: ClassSpec, state: ServerState) -> str | None:
    current = state.config.get("core.https_address") or ""
    if spec.listen and current and current != spec.listen:
        raise UsageError(M("class.create.listen_other", "The server already listens on {current}, not on {wanted}. "
                                                        "Pass --listen {current}, or change "
                                                        "core.https_address yourself.",
                           current=current, wanted=spec.listen))
    if spec.listen:
        # Recorded before it is set, so that `destroy` turns it off even after a failure
        # (only the class that turned it on does, once no other class uses it).
        update_project(client, spec.class_project,
                       {LISTEN_KEY: spec.listen} | ({} if current else {LISTEN_OWNER_KEY: "true"}))
    if spec.listen and not current:
        try:
            client.request("PATCH", "/1.0", json={"config": {"core.https_address": spec.listen}}, project=False)
        except IncusRequestFailed as exc:
            raise SetupError(M("class.create.listen_failed", "Incus could not listen on {address}: {detail}. Choose a "
                                                             "free address and port (for example 0.0.0.0:8443).",
                               address=spec.listen, detail=str(exc))) from exc
    return certs.public_address(spec.listen or current) if (spec.listen or current) else None


def _prepare_learner(client: IncusClient, spec: ClassSpec, state: ServerState, learner: str, index: int,
                     pool: str, architecture: str | None = None) -> None:
    """The learner's restricted project, its root disk profile, and its copy of the golden instance."""
    project, container, limits = spec.project(learner), spec.container, spec.limits
    # “isolated” refuses security.idmap.isolated=false (and privileged containers). Incus 6.0.4
    # checks only the keys an instance sets, so an instance made without the profile escapes it:
    # `class status` warns about those (isolation_warnings in status.py).
    ensure_project(client, state, project, {CLASS_KEY: spec.name, ROLE_KEY: "learner", LEARNER_KEY: learner,
                                             "features.images": "true", "features.profiles": "true",
                                             "restricted.containers.privilege": "isolated",
                                             **limits.project_config()}, f"labkit class {spec.name}: {learner}")
    # Isolated idmap: each learner's containers map to host ids of their own, so that even a
    # container escape does not reach another learner's files.
    ensure_root_disk(client, pool, project=project, size=limits.root_size,
                     config={"security.idmap.isolated": "true", **limits.profile_config()}, exact=True)
    fresh = (project, container) not in state.instances
    if fresh:
        params = {"project": project} | ({"target": spec.targets[index % len(spec.targets)]} if spec.targets else {})
        if architecture is None:
            architecture = _golden_architecture(client, spec)
        # One copy at a time: Incus 6.0 gives concurrent copies the same isolated id range.
        with _COPYING:
            client.request("POST", "/1.0/instances", params=params, timeout=600, json={
                "name": container, "type": "container", "config": {CLASS_KEY: spec.name, LEARNER_KEY: learner},
                "architecture": architecture,
                "source": {"type": "copy", "source": GOLDEN, "project": spec.class_project, "instance_only": True}})


def _ensure_learner(client: IncusClient, spec: ClassSpec, state: ServerState, learner: str, index: int,
                    pool: str, address: str | None, lang: str,
                    there: dict[str, OpenSide] | None = None, architecture: str | None = None,
                    prepared: bool = False) -> dict[str, str | None]:
    """The learner's project, instance (started, its baseline recorded), certificate and access folder;
    on each server the lab needs too (returns, by server id, the learner's `incus remote add` line
    there, None when already trusted).  `prepared`: _prepare_learner has already run."""
    there = there or {}
    if not prepared:
        _prepare_learner(client, spec, state, learner, index, pool, architecture)
    project, container = spec.project(learner), spec.container
    fresh = (project, container) not in state.instances
    data = client.request("GET", f"/1.0/instances/{quote(container)}", params={"project": project, "recursion": 1})
    config = data.get("config") or {}
    baseline = {key: config.get(key) for key in (BASELINE_UUID, BASELINE_GENERATION)}
    if BASELINE_UUID not in config:
        # Not finished by an earlier run. Started here only: later, a stopped instance is the learner's doing.
        if data.get("status") != "Running":
            _start(client, project, container)
        # Recorded before the learner can take any snapshot: every snapshot carries it, so a restore keeps it.
        generation = (config.get("volatile.uuid.generation") if fresh or not data.get("snapshots")
                      else config.get("volatile.uuid"))
        baseline = baseline_config(config, generation)
        client.request("PATCH", f"/1.0/instances/{quote(container)}", params={"project": project},
                       json={"config": baseline})
    hold_baseline(client, project, baseline)
    fingerprint = certs.ensure_trusted(client, name=spec.certificate_name(learner), project=project,
                                       folder=spec.bundle(learner), existing=state.certificates_of(spec.name, learner))
    lines = {server: side.ensure_learner(spec, learner) for server, side in there.items()}
    # Every server trusts the learner under the same name, recorded where the learner cannot write it.
    update_project(client, project,
                   {CERT_KEY: fingerprint} | ({TRUST_KEY: spec.certificate_name(learner)} if there else {}))
    readme = certs.bundle_readme(cls=spec.name, learner=learner, project=project, container=container,
                                 address=address, server_cert=state.certificate_pem, lang=lang)
    for server in there:  # where the learner was given a way in just now, in the lab's order
        readme += "\n" + KINDS[server].readme(project).render(lang) + "\n"
    certs.write_bundle(spec.bundle(learner), remote=spec.name, address=address, project=project,
                       server_cert=state.certificate_pem, readme=readme)
    return lines


def hold_baseline(client: IncusClient, project: str, baseline: dict[str, str | None]) -> None:
    """Keep the instance's identity at creation in the learner's project config too, which the
    learner can read but not write: the instructor's view trusts this copy, never the instance's
    user.* keys. Written once: a later run never adopts keys a learner may have changed since."""
    current = client.request("GET", f"/1.0/projects/{quote(project)}", project=False) or {}
    config = dict(current.get("config") or {})
    if config.get(BASELINE_UUID) or not all(baseline.values()):
        return
    client.request("PUT", f"/1.0/projects/{quote(project)}", project=False,
                   json={"config": config | baseline, "description": current.get("description", "")})
