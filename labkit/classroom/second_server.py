"""A class's side on the snapshot server, for a lab that needs one (`Chapter.needs`).

Each learner gets there a project of the same name as on the main server (restricted, snapshots
allowed, the class's limits, a root disk in its default profile so that `incus copy` has
somewhere to put the copy), marked `user.labkit.class=NAME` like every project of the class, and
a trust token restricted to that project.  The token is delivered in the learner's access folder
(snapshot-server.txt: the exact `incus remote add` line); when the learner uses it, the server
trusts their certificate under the token's name, which the class records in the learner's
project on the main server (TRUST_KEY) and hands the chapter as its `learner` param.
`destroy` removes the projects, the certificates and the tokens still pending.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import SetupError, SnapshotServerMissing, UsageError
from ..i18n import M, Message
from ..incus import certs
from ..incus.client import IncusClient
from ..keys import CLASS_KEY, LAB_KEY, LEARNER_KEY, ROLE_KEY, TRUST_KEY
from ..labs import chapter_named
from ..provision import daemon
from ..provision.second_server import (
    LEARNER_REMOTE_FILE,
    admin_client,
    configured,
    local_server,
    remote_add_command,
)
from ..provision.snapshot_server_tokens import encode_token
from ..provision.storage import ensure_root_disk
from ..servers import SNAPSHOT_SERVER
from .projects import delete_project, ensure_project
from .server_side import Removed
from .spec import ClassSpec

# The remote's name the chapters teach (docs/second-lab-facts.md), in the line the learner runs.
REMOTE = "incus-snapshot"
# In the learner's access folder: the one line that adds the snapshot server with their token.
REMOTE_FILE = LEARNER_REMOTE_FILE  # where labkit looks for it on the learner's side too
README = M("class.bundle.snapshot_server", "This lab also uses the snapshot server, where your project “{project}” is "
                                           "waiting too. Add it once, with this folder as INCUS_CONF: run the command "
                                           "in snapshot-server.txt (“incus remote add incus-snapshot … --token … "
                                           "--accept-certificate”). Its token works once, and only for your project.")


def open_admin() -> IncusClient:
    """labkit's own client on the snapshot server (its local socket, or the server the instructor named)."""
    client = admin_client("default")
    client.timeout = 60.0  # a project's forced deletion takes a while on a `dir` pool
    return client


@dataclass
class ServerSide:
    """What the snapshot server holds of any class, read once."""

    projects: dict[str, dict[str, Any]]
    certificates: list[dict[str, Any]]
    tokens: list[dict[str, Any]]  # pending token operations: {id, name, metadata}
    address: str = ""  # where learners reach it; and the pool copies go to (for `create` only)
    pool: str = ""

    @classmethod
    def read(cls, client: IncusClient, *, for_create: bool = False) -> ServerSide:
        get = lambda path, **params: client.request("GET", path, params=params, project=False)  # noqa: E731
        operations = get("/1.0/operations", recursion=1) or {}
        tokens = [{"id": op["id"], "name": ((op.get("metadata") or {}).get("request") or {}).get("name", ""),
                   "metadata": op.get("metadata") or {}}
                  for op in operations.get("running", []) if op.get("class") == "token"]
        return cls({p["name"]: p for p in get("/1.0/projects", recursion=1) or []},
                   get("/1.0/certificates", recursion=1) or [], tokens,
                   *((_address(client), _pool(client)) if for_create else ()))

    def trusted(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.certificates if c.get("name") == name), None)

    def pending(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.tokens if t["name"] == name), None)


def _address(client: IncusClient) -> str:
    """Where learners reach it: the URL the instructor named, else its own listening address."""
    remote = client.endpoint.remote
    if remote is not None:
        return remote.address.removeprefix("https://").rstrip("/")
    listen = (client.server().get("config") or {}).get("core.https_address") or ""
    if not listen:
        raise SetupError(M("class.snapshot_server.not_listening",
                           "The snapshot server does not listen on the network (core.https_address is empty), so "
                           "learners could not add it. Run “sudo labkit setup --snapshot-server” again."))
    return certs.public_address(listen)


def _pool(client: IncusClient) -> str:
    profile = client.request("GET", "/1.0/profiles/default", params={"project": "default"}, project=False) or {}
    pool = ((profile.get("devices") or {}).get("root") or {}).get("pool")
    if not pool:
        raise SetupError(M("class.snapshot_server.no_pool", "The snapshot server's default profile has no root disk, "
                                                            "so copies would have nowhere to go. Run “sudo labkit "
                                                            "setup --snapshot-server” again."))
    return str(pool)


def refuse_foreign(spec: ClassSpec, side: ServerSide) -> None:
    """Refuse to touch a project there that has a learner's project name but is not this class's."""
    found = []
    for learner in spec.learners:
        config = (side.projects.get(spec.project(learner)) or {}).get("config")
        if config is not None and (config.get(CLASS_KEY) != spec.name or config.get(LEARNER_KEY) != learner):
            found.append(spec.project(learner))
    if found:
        raise UsageError(M("class.create.foreign_projects_there",
                           "These projects already exist on the snapshot server and do not belong to the class "
                           "“{name}”: {projects}. labkit never changes them: choose another class name, or remove them "
                           "there yourself if they are left over.", name=spec.name, projects=", ".join(sorted(found))))


@dataclass
class Opened:
    """labkit's client on the snapshot server and what it held when `create` began."""

    client: IncusClient
    side: ServerSide

    def ensure_learner(self, spec: ClassSpec, learner: str) -> str | None:
        return ensure_learner(self.client, spec, self.side, learner)

    def close(self) -> None:
        self.client.close()


def open_for(spec: ClassSpec) -> Opened:
    """labkit's client on the snapshot server and what it holds, its foreign projects refused."""
    server = open_admin()
    try:
        side = ServerSide.read(server, for_create=True)
        refuse_foreign(spec, side)
    except BaseException:
        server.close()
        raise
    return Opened(server, side)


def plan(spec: ClassSpec) -> list[Message]:
    """What `create` would still do there, one line per learner."""
    with open_admin() as server:
        side = ServerSide.read(server)
    refuse_foreign(spec, side)
    return [M("class.plan.snapshot_server", "{learner}: on the snapshot server, create the restricted project "
                                            "“{project}” and a trust token restricted to it, given in {file}.",
              learner=learner, project=spec.project(learner), file=str(spec.bundle(learner) / REMOTE_FILE))
            for learner in spec.learners if spec.project(learner) not in side.projects
            or not (side.trusted(spec.certificate_name(learner)) or side.pending(spec.certificate_name(learner)))]


def ensure_learner(client: IncusClient, spec: ClassSpec, side: ServerSide, learner: str) -> str | None:
    """The learner's project there, and their token: returns the `incus remote add` line, or None
    when their certificate is already trusted (a token works once: a re-run issues none)."""
    project, limits, trust = spec.project(learner), spec.limits, spec.certificate_name(learner)
    ensure_project(client, side, project, {
        CLASS_KEY: spec.name, ROLE_KEY: "learner", LEARNER_KEY: learner, TRUST_KEY: trust,
        "features.images": "true", "features.profiles": "true", "restricted.containers.privilege": "isolated",
        **limits.project_config()}, f"labkit class {spec.name}: {learner}")
    ensure_root_disk(client, side.pool, project=project, size=limits.root_size,
                     config={"security.idmap.isolated": "true", **limits.profile_config()}, exact=True)
    if side.trusted(trust) is not None:
        return None
    token = side.pending(trust)
    meta = token["metadata"] if token is not None else _new_token(client, trust, project)
    line = remote_add_command(side.address, encode_token(trust, meta), REMOTE)
    certs.private_folder(spec.bundle(learner))
    certs.write_private(spec.bundle(learner) / REMOTE_FILE, line + "\n")
    return line


def _new_token(client: IncusClient, name: str, project: str) -> dict[str, Any]:
    # The token's operation runs until it is used: read its metadata, do not wait for it.
    answer = client.raw("POST", "/1.0/certificates", project=False, json={
        "name": name, "type": "client", "token": True, "restricted": True, "projects": [project]})
    if answer.status_code != 202:
        raise SetupError(M("class.snapshot_server.token_failed",
                           "The snapshot server refused to make a trust token for the project "
                           "“{project}” (HTTP {code}: {detail}).",
                           project=project, code=answer.status_code, detail=answer.text[:200]))
    return answer.json()["metadata"]["metadata"]


def used_by(config: dict[str, str]) -> bool:
    """Whether a project of a class says the class has a side on the snapshot server."""
    if config.get(TRUST_KEY):
        return True
    try:
        lab = chapter_named(config.get(LAB_KEY) or "")
        return config.get(ROLE_KEY) == "class" and lab.needs_server(SNAPSHOT_SERVER)
    except UsageError:  # a lab this labkit does not know
        return False


def destroy_for(name: str) -> tuple[Removed | None, Message | None]:
    """Remove the class's side there; or, when the server is gone, say so and remove nothing."""
    try:
        server = open_admin()
    except SnapshotServerMissing as exc:
        if not _gone_for_good():
            raise  # down, or out of reach: the class stays whole until it can be removed there too
        return None, exc.message
    with server:
        return destroy(server, name), None


def _gone_for_good() -> bool:
    """No snapshot server set up at all (`setup --snapshot-server --stop` removes its folder, and
    with it all it held), as admin_client sees it: no local folder, no server named by URL."""
    state = Path(os.environ.get("LABKIT_STATE_DIR") or daemon.STATE_DIR)
    return not local_server().incus_dir.exists() and configured(state) is None


def destroy(client: IncusClient, name: str) -> Removed:
    """Access first (pending tokens, then certificates), then the projects with all they hold."""

    side = ServerSide.read(client)
    mine = {p for p, data in side.projects.items() if (data.get("config") or {}).get(CLASS_KEY) == name}
    prefix = f"labkit:{name}:"
    done = Removed()
    for token in side.tokens:
        if token["name"].startswith(prefix):
            client.request("DELETE", f"/1.0/operations/{quote(token['id'])}", project=False)
            done.tokens += 1
    for cert in side.certificates:
        if cert.get("name", "").startswith(prefix) and set(cert.get("projects") or []) <= mine:
            client.request("DELETE", f"/1.0/certificates/{cert['fingerprint']}", project=False)
            done.certificates += 1
    for project in sorted(mine):
        done.projects.append(delete_project(client, project))
    return done


class SnapshotServerSide:
    """The snapshot server's side of a class, as create, destroy, the hub and the CLI use it
    (server_side.ClassServerKind)."""

    server = SNAPSHOT_SERVER
    remote_file = REMOTE_FILE

    def plan(self, spec: ClassSpec) -> list[Message]:
        return plan(spec)

    def open_for(self, spec: ClassSpec) -> Opened:
        return open_for(spec)

    def readme(self, project: str) -> Message:
        return README.bind(project=project)

    def used_by(self, config: dict[str, str]) -> bool:
        return used_by(config)

    def destroy_for(self, name: str) -> tuple[Removed | None, Message | None]:
        return destroy_for(name)

    def learner_address(self) -> str:
        with open_admin() as client:
            return _address(client)
