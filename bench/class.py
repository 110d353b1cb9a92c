#!/usr/bin/env python3
"""How long does a class take to set up, and how fast is the instructor's view?

    .venv/bin/python bench/class.py [--sizes 1,10,30] [--runs 7] [--dir] [--cluster] [--lab ID]

For each size, creates a class (golden instance, restricted projects, copies started
and booted, certificates and access folders), lets it settle 5 s, times `class
status` (median of --runs, after one warm-up), then destroys the class and times
that too.  The load average before each size is printed: the server is shared.  With --dir
the same runs again on a temporary `dir` pool (created and removed here).
Goals on a btrfs pool, 30 learners: ready in 5 s; `class status` as a command (start-up
included) in 250 ms, timed alternately with `incus list --all-projects` (their ratio printed).
`class create` is timed phase by phase as it runs. One more status is then timed phase by phase
(where the time goes).  With --cluster the same sizes run on a three-member Incus cluster
formed here (scripts/cluster.py: network namespaces, `dir` pools, removed afterwards),
learners spread with --target m1 m2 m3.  With --lab snapshot-server the class does the second lab
(the snapshot server must be up: `sudo labkit setup --snapshot-server`), and each learner's look
reaches both servers.  Prints numbers; it is not a timed test.
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
GOAL_CREATE_S, GOAL_STATUS_MS = 5.0, 250.0
sys.path.insert(0, str(ROOT))

from labkit.classroom import create as classroom  # noqa: E402
from labkit.classroom import destroy as destroying  # noqa: E402
from labkit.classroom import status as cs  # noqa: E402
from labkit.classroom.spec import ClassSpec, numbered_learners  # noqa: E402
from labkit.classroom.status import class_status  # noqa: E402
from labkit.incus.client import Endpoint, IncusClient, find_endpoint  # noqa: E402
from labkit.labs import DEFAULT_LAB  # noqa: E402
from labkit.labs.snapshots import class_view as snapshots_class  # noqa: E402
from labkit.provision.storage import default_pool  # noqa: E402


def timer(spent: dict[str, tuple[int, float]], originals: list, lock: threading.Lock):
    """`timed(owner, attr, label)`: wrap a function so its calls and seconds add up in `spent` under `label`
    (when `when` says so); `originals` keeps what to put back."""
    def timed(owner: object, attr: str, label: str, when=lambda *a, **k: True) -> None:
        real = getattr(owner, attr)
        originals.append((owner, attr, real))

        @functools.wraps(real)
        def wrapper(*args, **kwargs):
            if not when(*args, **kwargs):
                return real(*args, **kwargs)
            started = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                with lock:
                    calls, seconds = spent.get(label, (0, 0.0))
                    spent[label] = (calls + 1, seconds + time.perf_counter() - started)
        setattr(owner, attr, wrapper)
    return timed


def phases(client: IncusClient, name: str, folder: Path) -> dict[str, tuple[int, float]]:
    """One more `class status`, timed phase by phase: (calls, seconds) of the server listings (asked
    at once, so their times overlap), the learners' own requests, and the grading with its journals."""
    spent: dict[str, tuple[int, float]] = {}
    lock = threading.Lock()
    originals = []

    timed = timer(spent, originals, lock)

    timed(IncusClient, "all_instances", "GET instances (all projects)")
    timed(IncusClient, "request", "GET projects", lambda self, method, path, **k: path == "/1.0/projects")
    timed(snapshots_class, "all_volumes", "GET volumes (all pools)")
    timed(cs, "observe_learners", "learners' requests (wall)")
    timed(IncusClient, "raw", "  of which HTTP requests (sum over threads)")
    timed(cs, "grade_learner", "grading and journals (sum)")
    timed(cs, "class_status", "total")
    try:
        cs.class_status(client=client, name=name, folder=folder)
    finally:
        for owner, attr, real in reversed(originals):
            setattr(owner, attr, real)
    return spent


def create_phases() -> tuple[dict[str, tuple[int, float]], Callable[[], None]]:
    """`class create`'s phases, timed while it runs: (calls, seconds summed over its threads) of each,
    and a function that puts the originals back.  The learners are prepared all at once (up to 32),
    so the sums exceed the wall time; the copies are made one at a time (Incus 6.0's isolated id
    ranges), all before the first start."""
    spent: dict[str, tuple[int, float]] = {}
    lock = threading.Lock()
    originals: list[tuple[object, str, object]] = []

    timed = timer(spent, originals, lock)

    copy = lambda self, method, path, **k: (method == "POST" and path == "/1.0/instances"  # noqa: E731
                                            and (k.get("json") or {}).get("source", {}).get("type") == "copy")
    timed(classroom, "read_state", "read the server's state (4 requests)")
    timed(classroom.quotas, "ensure_counted", "pool quotas counted")
    timed(classroom, "_ensure_class_project", "class project")
    timed(classroom, "_ensure_golden", "golden instance (built, booted, stopped)")
    timed(classroom, "ensure_project", "projects created or updated (sum)")
    timed(classroom, "ensure_root_disk", "root disk profiles (sum)")
    timed(IncusClient, "request", "copies of the golden instance (sum; one at a time)", copy)
    timed(classroom, "_start", "starts and boots (sum)")
    timed(classroom, "hold_baseline", "baselines held in project config (sum)")
    timed(classroom.certs, "ensure_trusted", "certificates made and trusted (sum)")
    timed(classroom, "update_project", "project config updates (sum)")
    timed(classroom.certs, "write_bundle", "access folders written (sum)")
    timed(classroom, "_prepare_learner", "learners' projects, profiles, copies (sum over threads)")
    timed(classroom, "_ensure_learner", "learners' starts to access folders (sum over threads)")

    def restore() -> None:
        for owner, attr, real in reversed(originals):
            setattr(owner, attr, real)
    return spent, restore


def one_size(client: IncusClient, size: int, runs: int, pool: str | None, image: str | None, folder: Path,
             settle: float = 5.0, targets: tuple[str, ...] = (), lab: str = DEFAULT_LAB) -> dict[str, float]:
    name = f"lkc-bench-{uuid.uuid4().hex[:6]}"
    spec = ClassSpec(name, numbered_learners(size), folder / name, image=image, pool=pool,
                               targets=targets, lab=lab)
    created_phases, restore = create_phases()
    start = time.perf_counter()
    try:
        try:
            classroom.create(client=client, spec=spec, lang="en")
        finally:
            restore()
        created = time.perf_counter() - start
        time.sleep(settle)  # the new containers finish starting their services
        class_status(client=client, name=name, folder=spec.folder)  # warm-up: journals created
        samples = []
        for _ in range(runs):
            t = time.perf_counter()
            status = class_status(client=client, name=name, folder=spec.folder)
            samples.append(time.perf_counter() - t)
        assert len(status.learners) == size
        # Every learner observed (none “unobserved”); in the first lab the snapshot step is not done yet.
        assert all(r.diagnosis != "unobserved" for ls in status.learners for r in ls.results), status
        breakdown = phases(client, name, spec.folder)
        command = alternated({"labkit": lambda: run([str(Path(sys.executable).parent / "labkit"), "--lang", "en",
                                                     "class", "--dir", str(spec.folder.parent), "status", name]),
                              "incus": lambda: run(["incus", "list", "--all-projects", "--format", "csv"])}, runs)
    finally:
        t = time.perf_counter()
        destroying.destroy(client=client, name=name, folder=spec.folder)
        destroyed = time.perf_counter() - t
    return {"create": created, "status": statistics.median(samples), "status_max": max(samples), "destroy": destroyed,
            "phases": breakdown, "create_phases": created_phases,
            "command": statistics.median(command["labkit"]), "incus_list": statistics.median(command["incus"])}


def run(cmd: list[str]) -> None:
    """A command as an instructor runs it, with bytecode caches, output to a pipe; it must succeed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    if done.returncode not in (0, 1):  # 1: some learners' steps are not done, as expected here
        raise SystemExit(f"{cmd!r} exited {done.returncode}: {done.stderr.decode()[-500:]}")


def alternated(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Each action once to warm up, then all in turn, `runs` times: a change of load hits them alike (seconds)."""
    for action in actions.values():
        action()
    samples: dict[str, list[float]] = {label: [] for label in actions}
    for _ in range(runs):
        for label, action in actions.items():
            started = time.perf_counter()
            action()
            samples[label].append(time.perf_counter() - started)
    return samples


def bench(label: str, sizes: list[int], runs: int, pool: str | None, image: str | None, lab: str = DEFAULT_LAB) -> None:
    with IncusClient(find_endpoint()) as client, tempfile.TemporaryDirectory(prefix="lkc-bench-") as tmp:
        driver = next(p["driver"]
                      for p in client.request("GET", "/1.0/storage-pools", params={"recursion": 1}, project=False)
                      if p["name"] == (pool or default_pool(client)))
        print(f"\n{label}: pool {pool or default_pool(client)} ({driver}), lab {lab}")
        print(f"{'learners':>8}  {'create (ready)':>15}  {'status median':>14}  {'status max':>11}  {'destroy':>8}")
        for size in sizes:
            load = os.getloadavg()[0]
            r = one_size(client, size, runs, pool, image, Path(tmp), lab=lab)
            print(f"{size:>8}  {r['create']:>13.2f} s  {r['status'] * 1000:>11.0f} ms"
                  f"  {r['status_max'] * 1000:>8.0f} ms  {r['destroy']:>6.2f} s   (load {load:.1f})", flush=True)
            print(f"{'':>10}goals at 30 learners: create <= {GOAL_CREATE_S:.0f} s; `class status` as a command "
                  f"<= {GOAL_STATUS_MS:.0f} ms")
            print(f"{'':>10}`labkit class status` as a command: {r['command'] * 1000:.0f} ms; "
                  f"`incus list --all-projects` {r['incus_list'] * 1000:.0f} ms (alternated): "
                  f"{r['command'] / r['incus_list']:.2f} x incus")
            print(f"{'':>10}class create, phase by phase:")
            for label, (calls, seconds) in r["create_phases"].items():
                print(f"{'':>10}{label:<52} {calls:>3} × {seconds * 1000:8.1f} ms")
            print(f"{'':>10}class status, phase by phase:")
            for label, (calls, seconds) in r["phases"].items():
                print(f"{'':>10}{label:<52} {calls:>3} × {seconds * 1000:8.1f} ms")


def bench_cluster(sizes: list[int], runs: int, image: str | None) -> None:
    """The same sizes on a three-member cluster made for the occasion; labkit talks to member 1's socket."""
    sys.path.insert(0, str(ROOT))
    from scripts.cluster import Cluster

    cluster = Cluster.new(3)
    try:
        cluster.up()
        print(f"\ncluster of 3 (dir pools) formed in {cluster.formed_in:.1f} s: namespaces, bridge, daemons, "
              "bootstrap, 2 joins, image import")
        print(f"{'learners':>8}  {'create (ready)':>15}  {'status median':>14}  {'status max':>11}  {'destroy':>8}")
        endpoint = Endpoint(Path(cluster.members[0].socket), "default")
        with IncusClient(endpoint) as client, tempfile.TemporaryDirectory(prefix="lkc-bench-") as tmp:
            for size in sizes:
                load = os.getloadavg()[0]
                r = one_size(client, size, runs, None, image, Path(tmp), targets=tuple(m.name for m in cluster.members))
                print(f"{size:>8}  {r['create']:>13.2f} s  {r['status'] * 1000:>11.0f} ms"
                      f"  {r['status_max'] * 1000:>8.0f} ms  {r['destroy']:>6.2f} s   (load {load:.1f})", flush=True)
    finally:
        t = time.perf_counter()
        problems = cluster.down()
        print(f"cluster removed in {time.perf_counter() - t:.1f} s{': ' + '; '.join(problems) if problems else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,30")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--image", default=None, help="golden image (default: the local labkit/ image)")
    parser.add_argument("--dir", action="store_true", help="also measure on a temporary dir pool")
    parser.add_argument("--cluster", action="store_true", help="also measure on a three-member cluster formed here")
    parser.add_argument("--only-cluster", action="store_true", help="measure on the cluster only")
    parser.add_argument("--lab", default=DEFAULT_LAB, help="the lab the class does (default: the first)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.cluster or args.only_cluster:
        bench_cluster(sizes, args.runs, args.image)
    if args.only_cluster:
        return
    bench("default pool", sizes, args.runs, None, args.image, args.lab)
    if args.dir:
        pool = f"lkc-bench-dir-{uuid.uuid4().hex[:4]}"
        subprocess.run(["incus", "storage", "create", pool, "dir"], check=True, capture_output=True)
        try:
            bench("dir pool", sizes, args.runs, pool, args.image, args.lab)
        finally:
            subprocess.run(["incus", "storage", "delete", pool], check=False, capture_output=True)


if __name__ == "__main__":
    main()
