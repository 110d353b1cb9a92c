"""How `labkit class serve` scales with workspaces: 1, 10 and 30 learners (prints numbers; not a test).

For each size, a fresh class (created, not timed), then:
- serve: from starting `labkit class serve` to its "served" line (workspaces made and started,
  the hub answering), and the part of it spent making and starting the workspaces;
- logins: every learner logs in at once (httpx, as a browser posts the form) until their
  notebook's page answers; the time until all can work, and each login's median and max;
- first check: each learner's `labkit check prerequisites snapshot --json` in their workspace,
  all at once, timed inside the workspace;
- idle memory per workspace (Incus' figure for the container: JupyterLab, its processes, the
  page cache of its files), median and max;
- the room at work: every learner follows the chapter at once from inside their workspace (its
  commands as a script, `labkit check` after each step), each ends 12/12; p50/p95 of the check
  times, and the dashboard's status.json times meanwhile.
The class is destroyed afterwards.  Run as root:  .venv/bin/python bench/hub.py [1 10 30]
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import free_port  # noqa: E402
from tests.hub.conftest import ServedClass, in_workspace, labkit  # noqa: E402
from tests.integration.conftest import unique  # noqa: E402

TIMED = 's=$(date +%s%N); {cmd}; e=$(date +%s%N); echo "TIME {step} $(( (e-s)/1000000 ))"'
CHAPTER = [
    ("prerequisites", ":"),
    ("snapshot", "incus snapshot create ubuntu-test ubuntu-test-1"),
    ("touch", "incus exec ubuntu-test -- touch /root/this_file.txt"),
    ("stop", "incus stop ubuntu-test"),
    ("restore", "incus snapshot restore ubuntu-test ubuntu-test-1"),
    ("start", "incus start ubuntu-test"),
    ("verify", "incus exec ubuntu-test -- ls /root"),
    ("cleanup", "incus snapshot delete ubuntu-test ubuntu-test-1"),
]


def login(cls: ServedClass, who: str, password: str) -> float:
    client = httpx.Client(base_url=cls.url, follow_redirects=True, timeout=180)
    t0 = time.monotonic()
    client.get("hub/login")
    client.post("hub/login?next=", data={"username": who, "password": password, "_xsrf": client.cookies.get("_xsrf")})
    while time.monotonic() - t0 < 300:
        page = client.get("hub/spawn")
        if page.status_code == 200 and "/lab" in str(page.url):
            return time.monotonic() - t0
        time.sleep(0.3)
    raise AssertionError(f"{who}: no JupyterLab after 300 s")


def memory_mb(cls: ServedClass) -> list[float]:
    listed = subprocess.run(["incus", "list", "--project", cls.name, "--format", "json"],
                            capture_output=True, text=True, check=True)
    return [i["state"]["memory"]["usage"] / 2**20 for i in json.loads(listed.stdout) if i["name"].startswith("ws-")]


def follow_chapter(cls: ServedClass, learner: str) -> tuple[list[int], dict]:
    script = "; ".join(f"{cmd} >/dev/null && " + TIMED.format(cmd=f"labkit check {step} >/dev/null", step=step)
                       for step, cmd in CHAPTER) + "; labkit check --json"
    done = in_workspace(cls, learner, script, timeout=900)
    times = [int(line.split()[2]) for line in done.stdout.splitlines() if line.startswith("TIME ")]
    report = json.loads(done.stdout[done.stdout.index("{"):])
    return times, report["score"]


def measure(count: int, root: Path) -> None:
    cls = ServedClass(unique("lkb"), root, free_port())
    done = labkit("create", cls.name, "--learners", str(count), folder=root, timeout=1800)
    assert done.returncode == 0, done.stderr
    try:
        t0 = time.monotonic()
        cls.serve()
        served = time.monotonic() - t0
        made = next((line for line in cls.output if "workspaces running" in line), "").strip()
        creds = cls.credentials()
        learners = [n for n in creds if n != "instructor"]
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=count) as pool:
            logins = list(pool.map(lambda n: login(cls, n, creds[n]["password"]), learners))
        all_in = time.monotonic() - t0

        def first(learner: str) -> int:
            out = in_workspace(cls, learner, TIMED.format(cmd="labkit check prerequisites snapshot --json >/dev/null",
                                                          step="first")).stdout
            return int(out.split()[-1])

        with ThreadPoolExecutor(max_workers=count) as pool:
            firsts = list(pool.map(first, learners))
        time.sleep(5)
        memory = memory_mb(cls)
        print(f"{count} learners: serve {served:.1f} s ({made}); all logged in with JupyterLab answering "
              f"{all_in:.1f} s after serve was ready (login median "
              f"{statistics.median(logins):.1f} s, max {max(logins):.1f} s; "
              f"goal < 60 s from serve for 30, < 5 s a login once served); first check median "
              f"{statistics.median(firsts)} ms, max {max(firsts)} ms; idle memory per workspace median "
              f"{statistics.median(memory):.0f} MB, max {max(memory):.0f} MB (goal ≤ 200 MB)", flush=True)

        views: list[float] = []
        stop = threading.Event()
        session = httpx.Client(base_url=cls.url, follow_redirects=True, timeout=120)
        session.get("hub/login")
        session.post("hub/login?next=", data={"username": "instructor", "password": creds["instructor"]["password"],
                                               "_xsrf": session.cookies.get("_xsrf")})

        def watch() -> None:
            while not stop.is_set():
                t = time.monotonic()
                session.get("services/labkit/status.json").raise_for_status()
                views.append(time.monotonic() - t)
                time.sleep(1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=count) as pool:
            results = list(pool.map(lambda n: follow_chapter(cls, n), learners))
        room = time.monotonic() - t0
        stop.set()
        watcher.join()
        checks = sorted(t for times, _ in results for t in times)
        full = sum(1 for _, score in results if score["earned"] == score["possible"])
        p95 = checks[int(0.95 * (len(checks) - 1))]
        print(f"{count} learners at work: chapter done by all in {room:.1f} s; full score {full}/{count}; "
              f"check p50 {statistics.median(checks):.0f} ms, p95 {p95} ms over {len(checks)} checks; "
              f"dashboard status.json median {statistics.median(views) * 1000:.0f} ms, max {max(views) * 1000:.0f} ms "
              f"over {len(views)} refreshes", flush=True)
    finally:
        cls.stop()
        cls.destroy()


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench/hub.py serves classes (workspace containers): run it as root")
    sizes = [int(a) for a in sys.argv[1:]] or [1, 10, 30]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="labkit-bench-hub-") as tmp:
        for count in sizes:
            measure(count, Path(tmp))


if __name__ == "__main__":
    main()
