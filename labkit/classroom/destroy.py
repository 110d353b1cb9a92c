"""`labkit class destroy`: everything a class made, removed through the API (its projects with all
they hold, its learners' certificates, the listener it turned on, its side on the snapshot
server); its folder of journals and access bundles is kept."""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LabkitError, ServerMissing, SetupError, UsageError
from ..i18n import M, Message
from ..incus.client import IncusClient
from ..keys import LAB_KEY, LISTEN_KEY, LISTEN_OWNER_KEY, ROLE_KEY
from ..servers import Server
from .create import WORKERS, Progress, read_state
from .projects import delete_project, update_project
from .server_kinds import KINDS, kinds_for
from .server_side import ClassServerKind, Removed


@dataclass
class Destroyed:
    projects: list[str] = field(default_factory=list)
    certificates: int = 0
    listener_off: bool = False
    # On each server the lab needed: what was removed there, or why nothing was.
    there: list[tuple[Server, Removed | None, Message | None]] = field(default_factory=list)


def destroy(*, client: IncusClient, name: str, folder: Path, progress: Progress | None = None) -> Destroyed:
    """Remove the class's certificates (access first), projects with all they hold, listener and files."""
    say = progress or (lambda message: None)
    state = read_state(client)
    projects = state.class_projects(name)
    mine = {p["name"] for p in projects}
    found = [c for c in state.certificates_of(name) if set(c.get("projects") or []) <= mine]
    if not projects and not found and not folder.exists():
        raise UsageError(M("class.destroy.unknown", "There is no class “{name}” on this server (no project carries "
                                                    "user.labkit.class={name}).", name=name))
    done = Destroyed()
    for kind in _kinds_used(projects):
        # There first: if it fails, the class stays whole here and a second run finds it all again.
        done.there.append((kind.server, *kind.destroy_for(name)))
    for entry in found:
        client.request("DELETE", f"/1.0/certificates/{entry['fingerprint']}", project=False)
        done.certificates += 1
    # Learners' projects first, the class project (and the golden instance) last.
    order = sorted(projects, key=lambda p: p["config"].get(ROLE_KEY) == "class")
    learners = [p["name"] for p in order if p["config"].get(ROLE_KEY) != "class"]
    with ThreadPoolExecutor(max_workers=WORKERS) as workers:
        failed = {}
        for project, error in workers.map(lambda p: _try_delete_project(client, p), learners):
            if error is not None:
                failed[project] = error
                continue
            done.projects.append(project)
            say(M("class.progress.removed", "Project “{project}” removed ({count}/{total}).", project=project,
                  count=len(done.projects), total=len(projects)))
    if failed:
        raise _not_removed(name, failed, done)
    for project in [p for p in order if p["config"].get(ROLE_KEY) == "class"]:
        listen, owner = project["config"].get(LISTEN_KEY), project["config"].get(LISTEN_OWNER_KEY) == "true"
        others = [p["name"] for p in state.projects.values()
                  if p["name"] not in mine and (p.get("config") or {}).get(LISTEN_KEY) == listen]
        if listen and owner and others:  # another class still needs it: it becomes the one to turn it off
            update_project(client, others[0], {LISTEN_OWNER_KEY: "true"})
        elif listen and owner and state.config.get("core.https_address") == listen:
            client.request("PATCH", "/1.0", json={"config": {"core.https_address": ""}}, project=False)
            done.listener_off = True
        done.projects.append(delete_project(client, project["name"]))
    shutil.rmtree(folder, ignore_errors=True)
    return done


def _kinds_used(projects: list[dict[str, Any]]) -> list[ClassServerKind]:
    """The kinds of server the class has a side on: those its lab declares, as its class project says;
    when that project is gone (a destroy cut short) or names a lab this labkit lacks, every kind whose
    mark a project of the class carries."""
    lab = next((p["config"].get(LAB_KEY) for p in projects if p["config"].get(ROLE_KEY) == "class"), None)
    try:
        if lab:
            return kinds_for(lab)
    except (UsageError, ServerMissing):  # a lab, or a kind of server, this labkit does not know
        pass
    return [kind for kind in KINDS.values() if any(kind.used_by(p["config"]) for p in projects)]


def _try_delete_project(client: IncusClient, project: str) -> tuple[str, LabkitError | None]:
    """A learner's project, or why not (a cluster member down): the others are removed all the same."""
    try:
        return delete_project(client, project), None
    except LabkitError as exc:
        return project, exc


def _not_removed(name: str, failed: dict[str, LabkitError], done: Destroyed) -> SetupError:
    """What is left stays findable (each project keeps user.labkit.class): a second run finishes the job.
    The class project, the journals and the access folders are kept until then."""
    reasons = "; ".join(dict.fromkeys(str(exc) for exc in failed.values()))
    return SetupError(M(
        "class.destroy.incomplete",
        "{count} learner projects of the class “{name}” could not be removed ({projects}): {reason}. "
        "{removed} projects and {certificates} certificates were removed; the class project, the journals and the "
        "access folders are kept. On a cluster, a member that does not answer holds these instances: once it is "
        "back, run “labkit class destroy {name}” again to finish.",
        count=len(failed), name=name, projects=", ".join(sorted(failed)), reason=reasons, removed=len(done.projects),
        certificates=done.certificates))

