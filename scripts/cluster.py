#!/usr/bin/env python3
"""A real three-member Incus cluster on this one machine, for tests and benchmarks.

As Incus' own test suite does: every member is an `incusd` with its own INCUS_DIR,
inside its own network namespace; the namespaces are joined by a bridge on the host
(one address on the host's side, no route out of the namespaces), so traffic goes
only between them and the host's side of that bridge.  Member 1 bootstraps the
cluster with a preseed (a `dir` pool, the default profile's root disk); the others
join with preseeds and join tokens.  The image is imported from labkit's cache.

    python scripts/cluster.py up          # forms a cluster, prints its state file
    python scripts/cluster.py down [ID]   # removes one (or every) test cluster

Everything lives under /var/lib/labkit-test-cluster-<id> and every name carries the
id, so nothing collides with the machine's main daemon or another run.  `down` is
idempotent and keeps going past errors: daemons by their PID (and the processes they
started), lazy unmounts under the folder, namespaces, bridge, folder.  It needs
nothing but the state file, so a cluster left by a killed run can still be removed.
No labkit import: tests and benchmarks use it from outside.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

INCUSD = "/usr/libexec/incus/incusd"
ROOT_PREFIX = "/var/lib/labkit-test-cluster-"
IMAGE_CACHE = Path("/var/cache/labkit/images/bookworm-amd64")
IMAGE_ALIAS = "labkit/debian-bookworm"
PORT = 8443
POOL = "default"


def run(*cmd: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 120,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                            env=None if env is None else {**os.environ, **env})
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


@dataclass
class Member:
    name: str
    netns: str
    folder: str  # its INCUS_DIR
    address: str  # inside its namespace
    veth: str  # the host's end
    pid: int | None = None

    @property
    def socket(self) -> str:
        return f"{self.folder}/unix.socket"

    @property
    def https(self) -> str:
        return f"{self.address}:{PORT}"


@dataclass
class Cluster:
    id: str
    root: str
    bridge: str
    host_address: str  # the bridge's, /24
    members: list[Member] = field(default_factory=list)
    formed_in: float = 0.0

    # -- naming -------------------------------------------------------------
    @classmethod
    def new(cls, size: int = 3) -> Cluster:
        ident = uuid.uuid4().hex[:6]
        subnet = _free_subnet()
        members = [Member(f"m{i}", f"lkc-{ident}-m{i}", f"{ROOT_PREFIX}{ident}/m{i}", f"{subnet}.{10 + i}",
                          f"lkc{ident}v{i}") for i in range(1, size + 1)]
        return cls(ident, f"{ROOT_PREFIX}{ident}", f"lkc{ident}br", f"{subnet}.1", members)

    @property
    def state_file(self) -> Path:
        return Path(self.root) / "cluster.json"

    def save(self) -> None:
        self.state_file.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Cluster:
        data = json.loads(path.read_text())
        data["members"] = [Member(**m) for m in data["members"]]
        return cls(**data)

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    def env(self, member: Member | None = None) -> dict[str, str]:
        """What the `incus` client (and labkit, through INCUS_SOCKET) needs to talk to a member."""
        member = member or self.members[0]
        return {"INCUS_DIR": member.folder, "INCUS_SOCKET": member.socket, "INCUS_CONF": f"{self.root}/client"}

    def incus(self, *args: str, member: Member | None = None, check: bool = True, timeout: float = 120,
              stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run("incus", *args, env=self.env(member), check=check, timeout=timeout, stdin=stdin)

    # -- forming ------------------------------------------------------------
    def up(self, image: bool = True) -> Cluster:
        """Network, daemons, bootstrap, joins, image; on any failure everything made is removed."""
        started = time.monotonic()
        try:
            Path(self.root).mkdir(parents=True)
            os.chmod(self.root, 0o711)  # containers' root (mapped ids) must traverse it, as /var/lib/incus
            Path(self.root, "client").mkdir(mode=0o700)
            self.save()  # before anything exists: `down` can always find what to remove
            self._network()
            for member in self.members:
                self.start(member)
            self._bootstrap(self.members[0])
            for member in self.members[1:]:
                self._join(member)
            if image:
                self.import_image()
        except BaseException:
            self.down()
            raise
        self.formed_in = time.monotonic() - started
        self.save()
        return self

    def _network(self) -> None:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.host_address}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        for m in self.members:
            run("ip", "netns", "add", m.netns)
            run("ip", "link", "add", m.veth, "type", "veth", "peer", "name", f"{m.veth}p")
            run("ip", "link", "set", f"{m.veth}p", "netns", m.netns)
            run("ip", "link", "set", m.veth, "master", self.bridge, "up")
            inside = ("ip", "netns", "exec", m.netns, "ip")
            run(*inside, "link", "set", "lo", "up")
            run(*inside, "link", "set", f"{m.veth}p", "name", "eth0")
            run(*inside, "addr", "add", f"{m.address}/24", "dev", "eth0")
            run(*inside, "link", "set", "eth0", "up")  # no default route: nothing leaves the /24

    def start(self, member: Member, timeout: float = 60) -> None:
        """Start (or restart) the member's daemon in its namespace; its PID is the daemon's (exec all the way)."""
        Path(member.folder).mkdir(parents=True, exist_ok=True)
        os.chmod(member.folder, 0o711)
        log = open(Path(self.root, f"{member.name}.log"), "ab")
        # nsenter --net, not `ip netns exec`: that one also unshares the mount namespace and mounts a
        # fresh /sys, without the cgroup hierarchies under /sys/fs/cgroup (cgroup v1 and hybrid hosts):
        # containers then die at boot ("Failed to create /init.scope control group").
        process = subprocess.Popen(["nsenter", f"--net=/run/netns/{member.netns}", "env", f"INCUS_DIR={member.folder}",
                                    INCUSD, "--group", "incus-admin"], stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        member.pid = process.pid
        self.save()
        run("incus", "admin", "waitready", f"--timeout={int(timeout)}", env=self.env(member), timeout=timeout + 10)

    def restart(self, member: Member, timeout: float = 120) -> None:
        """Bring a killed member back, until member 1 reaches it through the cluster (its own socket
        answers first: a request forwarded to it gets “Server isn't ready yet” a while longer)."""
        self.start(member, timeout=timeout)
        deadline = time.monotonic() + timeout
        while self.incus("query", f"/1.0?target={member.name}", check=False, timeout=30).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{member.name} restarted but member 1 cannot reach it")
            time.sleep(0.5)

    def kill(self, member: Member) -> None:
        """A member going away without warning: SIGKILL to its daemon (its instances keep running)."""
        if member.pid and process_alive(member.pid):
            os.kill(member.pid, signal.SIGKILL)
            _wait_gone(member.pid, 10)

    def _bootstrap(self, member: Member) -> None:
        preseed = {"config": {"core.https_address": member.https},
                   "storage_pools": [{"name": POOL, "driver": "dir"}],
                   "profiles": [{"name": "default", "devices": {"root": {"path": "/", "pool": POOL, "type": "disk"}}}],
                   "cluster": {"server_name": member.name, "enabled": True}}
        self.incus("admin", "init", "--preseed", member=member, stdin=json.dumps(preseed))

    def _join(self, member: Member) -> None:
        token = self.incus("cluster", "add", member.name, "--quiet").stdout.strip().splitlines()[-1]
        preseed = {"cluster": {"enabled": True, "server_name": member.name, "server_address": member.https,
                               "cluster_token": token,
                               "member_config": [{"entity": "storage-pool", "name": POOL, "key": "source",
                                                  "value": ""}]}}
        self.incus("admin", "init", "--preseed", member=member, stdin=json.dumps(preseed), timeout=180)

    def import_image(self, alias: str = IMAGE_ALIAS) -> None:
        """From labkit's cache (made by `labkit setup`), else exported from the machine's main daemon."""
        files = [IMAGE_CACHE / "metadata.tar", IMAGE_CACHE / "rootfs.tar.gz"]
        if not all(f.exists() for f in files):
            export = Path(self.root, "image")
            export.mkdir(exist_ok=True)
            main = {k: v for k, v in os.environ.items() if not k.startswith("INCUS_")}
            subprocess.run(["incus", "image", "export", alias, f"{export}/"], env=main, check=True,
                           capture_output=True, timeout=300)
            found = sorted(export.iterdir(), key=lambda f: not f.name.startswith("meta-"))
            files = found[:2]
        self.incus("image", "import", *map(str, files), "--alias", alias, timeout=300)

    def wait_online(self, timeout: float = 60) -> dict[str, str]:
        """Until every member is ONLINE (as member 1 sees them); returns their status."""
        deadline = time.monotonic() + timeout
        while True:
            listed = self.incus("cluster", "list", "--format", "json", check=False)
            states = {m["server_name"]: m["status"] for m in json.loads(listed.stdout or "[]")}
            if states and all(s == "Online" for s in states.values()) or time.monotonic() > deadline:
                return states
            time.sleep(0.5)

    # -- tearing down -------------------------------------------------------
    def down(self, shutdown_timeout: float = 60) -> list[str]:
        """Remove everything, whatever state it is in; returns what could not be removed (empty: all gone)."""
        problems: list[str] = []
        live = [m for m in self.members if m.pid and process_alive(m.pid)]
        if live and len(live) < len(self.members):
            # A member killed by a test: bring it back first, or the others' shutdown waits for a
            # quorum that is gone (80 s here with one of three dead) and its instances stay up.
            for m in self.members:
                if m not in live and m.pid and os.path.exists(f"/run/netns/{m.netns}"):
                    try:
                        self.start(m, timeout=30)
                        live.append(m)
                    except (RuntimeError, OSError, subprocess.TimeoutExpired):
                        pass
        # All members at once: one shutting down alone waits for a quorum the others no longer have.
        stopping = {m.name: subprocess.Popen(["incus", "admin", "shutdown", f"--timeout={int(shutdown_timeout)}"],
                                             env={**os.environ, **self.env(m)}, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for m in live}
        for m in live:
            try:
                stopping[m.name].wait(shutdown_timeout + 15)
            except subprocess.TimeoutExpired:
                stopping[m.name].kill()
                stopping[m.name].wait()
            _wait_gone(m.pid, 10)
        # What the daemons started and left (dead daemon: its instances' monitors, forkfile helpers):
        # found by our folder in their command line, and everything under them.
        for pid in _ours(self.root) + [m.pid for m in self.members if m.pid]:
            for child in [pid, *_descendants(pid)]:
                if process_alive(child):
                    os.kill(child, signal.SIGKILL)
        for m in self.members:
            for pid in run("ip", "netns", "pids", m.netns, check=False).stdout.split():
                os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.2)
        for target in sorted(_mounts_under(self.root), key=len, reverse=True):
            run("umount", "-l", target, check=False)
        for m in self.members:
            if m.netns in run("ip", "netns", "list", check=False).stdout.split():
                result = run("ip", "netns", "delete", m.netns, check=False)
                if result.returncode:
                    problems.append(f"namespace {m.netns}: {result.stderr.strip()}")
            run("ip", "link", "delete", m.veth, check=False)  # gone with the namespace, normally
        if run("ip", "link", "show", self.bridge, check=False).returncode == 0:
            result = run("ip", "link", "delete", self.bridge, check=False)
            if result.returncode:
                problems.append(f"bridge {self.bridge}: {result.stderr.strip()}")
        result = run("rm", "-rf", "--one-file-system", self.root, check=False, timeout=600)
        if result.returncode:
            problems.append(f"folder {self.root}: {result.stderr.strip()}")
        return problems

    def leftovers(self) -> dict[str, list[str]]:
        """What of this cluster still exists on the machine (all empty after `down`)."""
        return {"namespaces": [n for n in run("ip", "netns", "list").stdout.split() if self.id in n],
                "links": [line for line in run("ip", "-o", "link").stdout.splitlines() if f"lkc{self.id}" in line],
                "mounts": _mounts_under(self.root),
                "processes": [str(p) for p in _ours(self.root) + [m.pid for m in self.members if m.pid]
                              if process_alive(p)],
                "folder": [self.root] if os.path.exists(self.root) else []}


# -- the machine, read from /proc and ip ---------------------------------------
def _free_subnet() -> str:
    """A 10.213.X.0/24 that no link of this machine uses (another run may hold one)."""
    used = run("ip", "-o", "-4", "addr").stdout
    routes = run("ip", "-4", "route").stdout
    for third in (int(uuid.uuid4().int % 200) + 20 + k for k in range(200)):
        candidate = f"10.213.{third % 250}"
        if f"{candidate}." not in used and f"{candidate}.0/" not in routes:
            return candidate
    raise RuntimeError("no free 10.213.X.0/24 subnet")


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int | None, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while pid and process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _parents() -> dict[int, int]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    found[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return found


def _descendants(pid: int) -> list[int]:
    parents, found, todo = _parents(), [], [pid]
    while todo:
        current = todo.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        todo += children
    return found


def _ours(root: str) -> list[int]:
    """Processes whose command line names our folder (a member's daemon, its instances' monitors)."""
    mine = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    text = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if root + "/" in text and "incus admin" not in text:
                mine.append(int(entry))
    return mine


def _mounts_under(root: str) -> list[str]:
    with open("/proc/self/mountinfo") as info:
        points = [line.split()[4] for line in info]
    return [p for p in points if p == root or p.startswith(root + "/")]


def main(argv: list[str]) -> int:
    if argv[:1] == ["up"]:
        cluster = Cluster.new().up()
        print(cluster.state_file)
        print(f"formed in {cluster.formed_in:.1f} s; INCUS_SOCKET={cluster.members[0].socket}", file=sys.stderr)
        return 0
    if argv[:1] == ["down"]:
        roots = [Path(ROOT_PREFIX + argv[1])] if len(argv) > 1 else sorted(Path("/").glob(ROOT_PREFIX[1:] + "*"))
        failed = 0
        for root in roots:
            problems = Cluster.load(root / "cluster.json").down() if (root / "cluster.json").exists() else []
            print(f"{root}: {'; '.join(problems) or 'removed'}")
            failed += bool(problems)
        return 1 if failed else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
