"""The “snapshot server” chapter's one look at Incus, its reset, and labkit's way to the snapshot server.

What is looked at is what a learner cannot write (docs/second-lab-facts.md): the snapshot
server's trust store, volatile.* keys, snapshot lists and times, both instances' config.
The learner's client config.yml is read only to name their remotes; the snapshot server
itself is always reached through labkit's own access (`provision.second_server.admin_client`), never
through the learner's remote, whose address the learner chooses.

`gather` does the I/O and returns the API answers as they came (tests replay such answers
recorded from real daemons, tests/fixtures/api/snapshot-server/); `build` turns them into
an observation and is pure.
"""
from __future__ import annotations

import socket as socketlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...errors import InstanceNotFound, LabkitError
from ...i18n import M
from ...incus import client_config
from ...incus.certs import fingerprint
from ...incus.client_config import split_address
from ...incus.timestamps import parse_incus_time
from ...servers import SNAPSHOT_SERVER
from ..snapshots.observe import Instance

if TYPE_CHECKING:
    from ...grading.access import Access
    from ...i18n import Message
    from ...incus.client import IncusClient

# The keys the checks read, on both instances.  volatile.* ones only Incus writes.
KEYS = ("boot.autostart", "snapshots.schedule", "snapshots.pattern", "snapshots.expiry",
        "volatile.uuid", "volatile.base_image", "volatile.apply_template")
# What the chapter sets on the primary, and what a reset takes away again.
CHAPTER_KEYS = ("boot.autostart", "snapshots.schedule", "snapshots.pattern", "snapshots.expiry")
# Remote host names resolved to find the snapshot server behind a name: each lookup may wait
# for DNS, and the learner may list any number of remotes.
MAX_LOOKUPS = 3


@dataclass(frozen=True)
class Snap:
    name: str
    created_at: datetime | None
    expires_at: datetime | None
    # A snapshot that came by migration (a copy or a refresh) has its time cut to whole seconds;
    # one taken on the server itself has nanoseconds (docs/second-lab-facts.md (e)).
    whole_second: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Snap:
        expires = parse_incus_time(data.get("expires_at"))
        created = str(data.get("created_at") or "")
        # 0001-01-01: no expiry.
        return cls(data["name"], parse_incus_time(created),
                   expires if expires is not None and expires.year > 1 else None,
                   bool(created) and "." not in created)


@dataclass(frozen=True)
class Machine:
    """One instance as the checks see it: its status, times, chapter keys and snapshots."""

    name: str
    status: str
    created_at: datetime | None
    config: dict[str, str]
    snapshots: tuple[Snap, ...] = ()

    @classmethod
    def from_api(cls, data: dict[str, Any], snapshots: list[dict[str, Any]] = ()) -> Machine:
        # expanded_config: a key set in a profile counts as it does for Incus itself.
        config = {**(data.get("config") or {}), **(data.get("expanded_config") or {})}
        return cls(data["name"], data.get("status", ""), parse_incus_time(data.get("created_at")),
                   {k: str(config[k]) for k in KEYS if k in config},
                   tuple(sorted((Snap.from_api(s) for s in snapshots or ()),
                                key=lambda s: s.created_at or datetime.min.replace(tzinfo=timezone.utc))))

    def key(self, name: str) -> str:
        return self.config.get(name, "")

    @property
    def uuid(self) -> str | None:
        return self.config.get("volatile.uuid")

    def snapshot(self, name: str) -> Snap | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Snap]:
        # Checks look up each snapshot of one server on the other: by name, not by scanning
        # (a learner may make thousands).
        return {s.name: s for s in self.snapshots}


@dataclass(frozen=True)
class Trusted:
    name: str
    fingerprint: str
    type: str
    restricted: bool
    projects: tuple[str, ...]


@dataclass(frozen=True)
class ClientRemote:
    name: str
    addr: str


@dataclass(frozen=True)
class ServerObservation:
    """Both servers at one moment.  `instance` is the primary (None when it is gone)."""

    container: str
    snapshot_name: str
    instance: Instance | None
    primary: Machine | None
    copy: Machine | None
    # The snapshot server's other instances in the learner's project (a copy under another name).
    others: tuple[Machine, ...]
    trusted: tuple[Trusted, ...]
    # Where the snapshot server listens (its own answer, host:port).
    server_addresses: tuple[str, ...]
    # The learner's remotes; None when their client config is not readable (a class view).
    remotes: tuple[ClientRemote, ...] | None
    # SHA-256 of the learner's client.crt, when readable.
    client_fingerprint: str | None
    # Why the learner's config.yml could not be read (it exists): then their remotes are unknown.
    client_error: str | None = None
    taken_at: datetime | None = None
    unobserved: Message | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The API answers it was built from (replayable with `build`), and when."""
        return {**self.raw, "taken_at": self.taken_at.isoformat() if self.taken_at else None}

    def remote_for_server(self) -> list[ClientRemote]:
        """The learner's remotes whose address is the snapshot server's."""
        return [r for r in self.remotes or () if same_address(r.addr, self.server_addresses)]


def same_address(addr: str, addresses: tuple[str, ...]) -> bool:
    """Whether a remote's addr (https://HOST[:PORT]) is one of the server's own addresses.

    Pure on purpose: host names were resolved by `gather` into the addresses' list beforehand."""
    host, port = split_address(addr)
    return any(split_address(a) == (host, port) for a in addresses)


# -- building (pure) ---------------------------------------------------------
def build(raw: dict[str, Any], params: dict[str, str], taken_at: datetime | None = None) -> ServerObservation:
    """An observation from the API answers `gather` collected (or a recorded fixture)."""
    container = params["container"]
    primary_data = raw.get("primary")
    primary = Machine.from_api(primary_data, raw.get("primary_snapshots") or []) if primary_data else None
    copy, others = None, []
    for item in raw.get("server_instances") or []:
        if item.get("name") == container:
            copy = Machine.from_api(item, raw.get("copy_snapshots") or [])
        else:
            others.append(Machine.from_api(item))
    trusted = tuple(Trusted(str(c.get("name", "")), str(c.get("fingerprint", "")), str(c.get("type", "")),
                            bool(c.get("restricted")), tuple(c.get("projects") or ()))
                    for c in raw.get("certificates") or [])
    remotes = None
    if raw.get("client_remotes") is not None:
        remotes = tuple(ClientRemote(str(name), str((entry or {}).get("addr", "")))
                        for name, entry in raw["client_remotes"].items())
    taken = taken_at or (datetime.fromisoformat(raw["taken_at"]) if raw.get("taken_at") else None)
    return ServerObservation(
        container=container, snapshot_name=params["snapshot"],
        instance=Instance.from_api(primary_data) if primary_data else None,
        primary=primary, copy=copy, others=tuple(others), trusted=trusted,
        server_addresses=tuple(raw.get("server_addresses") or ()), remotes=remotes,
        client_fingerprint=raw.get("client_fingerprint"), client_error=raw.get("client_error"),
        taken_at=taken or datetime.now(timezone.utc),
        raw={k: v for k, v in raw.items() if k != "taken_at"})


# -- gathering (I/O) ---------------------------------------------------------
def observe(access: Access, params: dict[str, str]) -> ServerObservation:
    taken_at = datetime.now(timezone.utc)
    return build(gather(access, params), params, taken_at)


def gather(access: Access, params: dict[str, str]) -> dict[str, Any]:
    """Six requests, three on each server, sent together; the learner's config.yml read meanwhile."""
    container = params["container"]
    main, server = access.main, access.server(SNAPSHOT_SERVER)
    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="labkit-observe2") as pool:
        primary = pool.submit(main.instance_or_none, container)
        primary_snaps = pool.submit(instance_snapshots, main, container)
        info = pool.submit(server.server)
        listed = pool.submit(server.request, "GET", "/1.0/instances", params={"recursion": 1})
        copy_snaps = pool.submit(instance_snapshots, server, container)
        certs = pool.submit(server.request, "GET", "/1.0/certificates", params={"recursion": 1}, project=False)
        remotes, client_fingerprint, error = read_client(access.client_config)
        raw = {
            "primary": primary.result(), "primary_snapshots": primary_snaps.result(),
            "server_instances": listed.result() or [], "copy_snapshots": copy_snaps.result(),
            # The PEM itself is not needed: its fingerprint names it.
            "certificates": [{k: v for k, v in c.items() if k != "certificate"} for c in certs.result() or []],
            "server_addresses": server_addresses(info.result(), remotes, first=params.get("remote")),
            "client_remotes": remotes, "client_fingerprint": client_fingerprint,
        }
        if error is not None:
            raw["client_error"] = error
    return raw


def instance_snapshots(client: IncusClient, name: str) -> list[dict[str, Any]]:
    """The instance's snapshots as the API lists them; [] when there is no such instance."""
    try:
        return client.snapshots(name)
    except LabkitError:  # no such instance (404): no snapshots
        if client.instance_or_none(name) is None:
            return []
        raise


def read_client(conf: Path | None) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """The learner's remotes ({name: {addr}}), their client certificate's fingerprint, and why
    config.yml could not be read.  No folder (a class view): (None, None, None).  A config.yml
    that exists but cannot be read is not a class view: its remotes are {} and the error is said."""
    if conf is None:
        return None, None, None
    error = None
    try:
        data = client_config.parse(client_config.read(conf / "config.yml"))
        remotes = {str(k): {"addr": _addr(v)} for k, v in (data.get("remotes") or {}).items()}
    except FileNotFoundError:
        remotes = {}
    except (OSError, ValueError) as exc:
        remotes, error = {}, (str(exc).splitlines() or [type(exc).__name__])[0][:200]
    try:
        crt = fingerprint(client_config.read(conf / "client.crt"))
    except (OSError, ValueError):
        crt = None
    return remotes, crt, error


def _addr(entry: dict[str, Any] | None) -> str:
    addr = (entry or {}).get("addr")
    return addr if isinstance(addr, str) else ""


def server_addresses(info: dict[str, Any], remotes: dict[str, Any] | None, first: str | None = None) -> list[str]:
    """The server's addresses, plus each learner remote's host:port that resolves to one of them
    (a remote added as localhost:8444 is the same server as 127.0.0.1:8444).  At most
    MAX_LOOKUPS names are resolved, the remote named `first` (the chapter's) first."""
    own = [str(a) for a in (info.get("environment") or {}).get("addresses") or []]
    ips = {split_address(a) for a in own}
    found = list(own)
    lookups = 0
    ordered = sorted((remotes or {}).items(), key=lambda item: item[0] != first)
    for _, entry in ordered:
        host, port = split_address(entry.get("addr", ""))
        # Only a name on one of the server's ports is worth resolving: a DNS lookup of every remote
        # (images.linuxcontainers.org is in every config.yml) could stall a check on a machine without DNS.
        if not entry.get("addr", "").startswith("https://") or (host, port) in ips or port not in {p for _, p in ips}:
            continue
        if f"{host}:{port}" in found or lookups >= MAX_LOOKUPS:
            continue
        lookups += 1
        try:
            resolved = {(i[4][0].lower(), port) for i in socketlib.getaddrinfo(host, port, type=socketlib.SOCK_STREAM)}
        except (OSError, UnicodeError):
            continue
        if resolved & ips:
            found.append(f"{host}:{port}")
    return found


# -- reset -------------------------------------------------------------------
def reset(access: Access, params: dict[str, str]) -> None:
    """The chapter's start: the copy deleted on the snapshot server, the primary running with no
    snapshots and none of the chapter's keys.  The remote and its trust stay (a token is used once)."""
    from ...incus import instances  # only a reset uses it: not loaded with every check

    container, main, server = params["container"], access.main, access.server(SNAPSHOT_SERVER)
    data = main.instance_or_none(container)
    if data is None:
        raise InstanceNotFound(M("snapsrv.reset.no_instance", "There is no instance “{container}” to reset. Create it "
                                                              "with “labkit --lab snapshot-server setup”.",
                                 container=container))
    if server.instance_or_none(container) is not None:
        instances.delete(server, container)
    for snap in main.snapshots(container):
        main.request("DELETE", f"/1.0/instances/{quote(container)}/snapshots/{quote(snap['name'], safe='')}",
                     timeout=120)
    data = main.instance(container)
    config = {k: v for k, v in (data.get("config") or {}).items() if k not in CHAPTER_KEYS}
    if config != data.get("config"):
        body = {k: data[k] for k in ("architecture", "devices", "ephemeral", "profiles", "stateful", "description")
                if k in data}
        main.request("PUT", f"/1.0/instances/{quote(container)}", json={**body, "config": config})
    if data.get("status") != "Running":
        instances.change_state(main, container, "start")
