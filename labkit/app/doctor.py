"""`labkit doctor`: a read-only diagnosis, one line per check."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import IncusUnavailable, LabkitError
from ..i18n import M, Message
from ..incus.client import ADMIN_GROUP, IncusClient, find_endpoint
from ..provision import daemon
from ..provision import second_server as second
from ..provision.image import local_images
from ..terminal import terminal
from . import recorder_service


@dataclass(frozen=True)
class Check:
    id: str
    ok: bool
    message: Message
    required: bool = True


def diagnose(container: str, project: str | None = None) -> list[Check]:
    endpoint = find_endpoint(project)
    checks: list[Check] = []
    client = IncusClient(endpoint, timeout=10)
    try:
        try:
            server = client.server()
        except LabkitError as exc:
            reachable = not isinstance(exc, IncusUnavailable)
            checks.append(Check("daemon", reachable, M("doctor.daemon.socket", "The Incus socket {socket} exists: "
                                                                               "the daemon seems to be running.",
                                                       socket=str(endpoint.socket)) if reachable else exc.message))
            if reachable:
                checks.append(Check("access", False, exc.message))
            return checks
        checks.append(Check("daemon", True, M("doctor.daemon.ok", "Incus daemon answers on {socket}.",
                                              socket=str(endpoint.socket))))
        auth = server.get("auth")
        if auth != "trusted":
            checks.append(Check("access", False, M(
                "doctor.access.untrusted",
                "The daemon does not trust this client (auth: {auth}). Ask to be added to the “{group}” group, "
                "or use the certificate your instructor gave you.", auth=auth, group=ADMIN_GROUP)))
            return checks
        restricted = endpoint.restricted_socket
        checks.append(Check("access", True, M("doctor.access.restricted", "Access: restricted to project “{project}”.",
                                              project=client.project) if restricted
                            else M("doctor.access.full", "Access: full (project “{project}”).",
                                   project=client.project)))
        version = server.get("environment", {}).get("server_version", "?")
        checks.append(Check("version", True, M("doctor.version", "Incus server version {version}.", version=version)))
        checks.extend(_storage_and_images(client))
        checks.append(_instance(client, container))
        if endpoint.remote is None:
            checks.append(_recorder(client.project, container))
        checks.extend(_snapshot_server())
        return checks
    finally:
        client.close()


def _storage_and_images(client: IncusClient) -> list[Check]:
    out = []
    try:
        pools = client.request("GET", "/1.0/storage-pools", params={"recursion": 1}, project=False) or []
        names = ", ".join(f"{p['name']} ({p['driver']})" for p in pools)
        out.append(Check("storage", bool(pools), M("doctor.storage.ok", "Storage pools: {pools}.", pools=names) if pools
                         else M("doctor.storage.none", "No storage pool: run “labkit setup” (as root) to create one.")))
    except LabkitError:
        # Restricted clients may not list pools; the instance check below is what matters.
        out.append(Check("storage", True, M("doctor.storage.hidden", "Storage pools are not visible "
                                                                     "with restricted access."), required=False))
    try:
        names = local_images(client)
        images = set(names.values())
        aliases = ", ".join(sorted(n for n in names if n not in images)) or str(len(images))
        out.append(Check("image", bool(images), M("doctor.image.ok", "Images: {aliases}.", aliases=aliases) if images
                         else M("doctor.image.none", "No local image yet: “labkit setup” "
                                                     "fetches or builds one."), required=False))
    except LabkitError as exc:
        out.append(Check("image", False, exc.message, required=False))
    return out


def _instance(client: IncusClient, container: str) -> Check:
    data = client.instance_or_none(container)
    if data is None:
        return Check("instance", False, M("doctor.instance.missing", "The lab instance “{container}” does not "
                                                                     "exist: run “labkit setup”.", container=container))
    status = data.get("status")
    return Check("instance", True, M("doctor.instance.ok", "Lab instance “{container}”: {status}.",
                                     container=container, status=status))


def _recorder(project: str, container: str) -> Check:
    """Not required: without it the checks work, but steps done in a terminal and checked
    only at the end cannot all be proven."""
    found = recorder_service.status(project, container)
    if not found.running:
        return Check("recorder", False, M("doctor.recorder.stopped", "The event recorder is not running: "
                                                                     "steps done in a terminal are proven "
                                                                     "only if you check right after each one. "
                                                                     "“labkit setup” starts it again."), required=False)
    since = found.since.strftime("%Y-%m-%d %H:%M:%S UTC") if found.since else "?"
    if not found.connected:
        return Check("recorder", False, M("doctor.recorder.waiting", "The event recorder (PID {pid}) is waiting for "
                                                                     "the Incus daemon to come back; its log is {log}.",
                                          pid=found.pid, log=str(found.log)), required=False)
    return Check("recorder", True, M("doctor.recorder.ok", "Event recorder running since {since} (PID "
                                                           "{pid}): {events} event(s) and {sightings} "
                                                           "look(s) at the file recorded. Log: {log}.",
                                     since=since, pid=found.pid, events=found.events, sightings=found.sightings,
                                     log=str(found.log)), required=False)


def _snapshot_server() -> list[Check]:
    """Only when the lab has one (started by `setup --snapshot-server`, or named by URL); not required."""
    named = second.configured(daemon.STATE_DIR)
    server = second.local_server()
    if named is None and not server.incus_dir.exists():
        return []
    if named is not None and not server.incus_dir.exists():
        address = named["url"]
        found = Check("snapshot_server", True, M("doctor.snapshot_server.named",
                      "Snapshot server: {url} (named by the instructor).", url=address), required=False)
    else:
        state = second.status(server)
        if not state.running:
            return [Check("snapshot_server", False, M("doctor.snapshot_server.down",
                          "The snapshot server in {folder} is not running: “sudo labkit setup --snapshot-server” "
                          "starts it.", folder=str(server.incus_dir)), required=False)]
        address = state.address or "?"
        found = Check("snapshot_server", True, M("doctor.snapshot_server.ok",
                      "Snapshot server running on {address} (Incus {version}, storage: {storage}, PID {pid}).",
                      address=address, version=state.version or "?", storage=state.storage or "?",
                      pid=state.pid or "?"), required=False)
    remote = second.client_remote(address)
    if remote is not None:
        message = M("doctor.snapshot_server.remote", "Your Incus client has the "
                                                     "remote “{remote}” for it.", remote=remote)
    else:
        message = M("doctor.snapshot_server.no_remote",
                    "Your Incus client has no remote for the snapshot server yet: add it with “incus remote add "
                    "incus-snapshot {address} --token TOKEN --accept-certificate”.", address=address)
    return [found, Check("remote", remote is not None, message, required=False)]


def doctor_text(checks: list[Check], lang: str) -> str:
    lines = [f"{'✔' if c.ok else ('✘' if c.required else '!')} {c.id:<9} {terminal(c.message, lang)}" for c in checks]
    ok = all(c.ok or not c.required for c in checks)
    lines.append((M("doctor.ready", "The lab can run.") if ok
                  else M("doctor.not_ready", "The lab cannot run yet: fix the lines marked ✘.")).render(lang))
    return "\n".join(lines)


def doctor_json(checks: list[Check], lang: str, ok: bool) -> dict[str, Any]:
    return {"ok": ok, "lang": lang, "checks": [{"id": c.id, "ok": c.ok, "required": c.required,
                                                "message": c.message.render(lang)} for c in checks]}
