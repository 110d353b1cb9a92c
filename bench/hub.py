"""How `labkit class serve` scales: 1, 10 and 30 learners (prints numbers; not a test).

For each size: a fresh class (created, not timed), then
- serve → every learner's server ready: from starting `labkit class serve` until every
  learner's JupyterLab answers, each spawned through the hub's REST API with that
  learner's own token (made by the instructor's admin token);
- resident memory per learner server (the sum over the processes of that account, idle);
- first graded check: each learner's `labkit check prerequisites snapshot --json` run as
  their account with their INCUS_CONF, all at once, from the moment all servers are ready;
- the dashboard's refresh for the class: one `class_status()` as the dashboard does it,
  and a GET of /services/labkit/status.json through the proxy.
The class is destroyed afterwards.  Run as root:  .venv/bin/python bench/hub.py [1 10 30]
"""
from __future__ import annotations

import os
import pwd
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hub.conftest import ServedClass, labkit  # noqa: E402
from tests.browser.conftest import free_port  # noqa: E402
from tests.integration.conftest import unique  # noqa: E402

RUNTIME_LABKIT = "/opt/labkit/hub-runtime/bin/labkit"


def instructor_session(cls: ServedClass, password: str) -> str:
    """An API token of the instructor (hub admin), asked for as a browser would."""
    client = httpx.Client(base_url=cls.url, follow_redirects=True, timeout=120)
    client.get("hub/login")
    client.post("hub/login?next=", data={"username": "instructor", "password": password,
                                          "_xsrf": client.cookies.get("_xsrf")})
    answer = client.post("hub/api/users/instructor/tokens", json={"note": "bench"},
                         headers={"X-XSRFToken": client.cookies.get("_xsrf", path="/hub/")})
    answer.raise_for_status()
    return answer.json()["token"]


def api(cls: ServedClass, token: str, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{cls.url}hub/api/{path}", headers={"Authorization": f"token {token}"},
                         timeout=180, **kwargs)


def rss_mb(uid: int) -> float:
    total = 0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and proc.stat().st_uid == uid:
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def measure(count: int, root: Path) -> dict[str, float]:
    cls = ServedClass(unique("lkb"), root, free_port())
    done = labkit("create", cls.name, "--learners", str(count), folder=root, timeout=1800)
    assert done.returncode == 0, done.stderr
    try:
        started = time.monotonic()
        cls.serve()
        hub_ready = time.monotonic() - started
        creds = cls.credentials()
        admin = instructor_session(cls, creds["instructor"]["password"])
        logins = {u.pw_gecos.split()[-1]: u for u in pwd.getpwall() if u.pw_gecos.startswith(f"labkit {cls.name} ")}
        # The hub knows a user once they logged in: the admin adds them first, as if they had.
        api(cls, admin, "POST", "users", json={"usernames": [u.pw_name for u in logins.values()]})
        tokens = {n: api(cls, admin, "POST", f"users/{u.pw_name}/tokens", json={"note": "bench"}).json()["token"]
                  for n, u in logins.items()}
        for learner, user in logins.items():
            api(cls, tokens[learner], "POST", f"users/{user.pw_name}/server")
        pending = set(logins)
        while pending:
            for learner in list(pending):
                model = api(cls, tokens[learner], "GET", f"users/{logins[learner].pw_name}").json()
                if (model.get("servers") or {}).get("", {}).get("ready"):
                    pending.discard(learner)
            time.sleep(0.5)
        all_ready = time.monotonic() - started
        time.sleep(3)  # settle before sampling memory
        rss = [rss_mb(u.pw_uid) for u in logins.values()]

        def first_check(learner: str) -> float:
            user = logins[learner]
            t0 = time.monotonic()
            subprocess.run(["runuser", "-u", user.pw_name, "--", "env", f"HOME={user.pw_dir}",
                            f"INCUS_CONF={user.pw_dir}/incus", RUNTIME_LABKIT, "check", "prerequisites", "snapshot",
                            "--json"], capture_output=True, check=False)
            return time.monotonic() - t0

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=count) as pool:
            checks = list(pool.map(first_check, logins))
        checks_all = time.monotonic() - t0

        from labkit.classroom.status import class_status
        from labkit.incus.client import IncusClient, find_endpoint

        with IncusClient(find_endpoint()) as client:
            t0 = time.monotonic()
            class_status(client=client, name=cls.name, folder=cls.folder)
            refresh = time.monotonic() - t0
        session = httpx.Client(base_url=cls.url, follow_redirects=True, timeout=120)
        session.get("hub/login")
        session.post("hub/login?next=", data={"username": "instructor", "password": creds["instructor"]["password"],
                                               "_xsrf": session.cookies.get("_xsrf")})
        t0 = time.monotonic()
        assert session.get("services/labkit/status.json").status_code == 200
        status_get = time.monotonic() - t0
        return {"learners": count, "hub ready s": hub_ready, "all servers ready s": all_ready,
                "rss per server MB (median)": statistics.median(rss), "rss max MB": max(rss),
                "first check per learner s (median)": statistics.median(checks), "all first checks s": checks_all,
                "class_status s": refresh, "GET status.json s": status_get}
    finally:
        cls.stop()
        cls.destroy()


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench/hub.py creates Unix accounts: run it as root")
    sizes = [int(a) for a in sys.argv[1:]] or [1, 10, 30]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="labkit-bench-hub-") as tmp:
        for count in sizes:
            row = measure(count, Path(tmp))
            print("  ".join(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
