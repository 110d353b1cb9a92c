#!/usr/bin/env python3
"""How fast is a check?  Median and p95 latency on a real daemon, in-process and via the CLI.

    .venv/bin/python bench/checks.py [--runs 50] [--image ALIAS]

Creates its own instance (deleted afterwards), takes it half-way through the chapter
(snapshot taken, file created), then times:
  - one step's check in-process (Session.check(["touch"])): observe + grade + journal write;
  - all eight steps in-process;
  - `labkit check touch` as a command (interpreter start-up included), for comparison.
Targets on these machines: one step <= 15 ms median in-process, all steps <= 50 ms.
Prints numbers; it is not a timed test.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.session import Session  # noqa: E402
from labkit.setup import wait_until_booted  # noqa: E402


def incus(*args: str) -> None:
    subprocess.run(["incus", *args], check=True, stdin=subprocess.DEVNULL, capture_output=True)


def timed(action, runs: int) -> list[float]:
    action()  # warm-up: connection pool, imports, catalogue
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"{label:<44} median {statistics.median(samples):7.1f} ms   p95 {p95:7.1f} ms   (n={len(samples)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--image", default="labkit/debian-bookworm")
    args = parser.parse_args()
    name = f"lk-bench-{uuid.uuid4().hex[:6]}"
    incus("launch", args.image, name)
    try:
        wait_until_booted(name)
        incus("snapshot", "create", name, "ubuntu-test-1")
        time.sleep(1.1)
        incus("exec", name, "--", "touch", "/root/this_file.txt")
        with tempfile.TemporaryDirectory() as tmp:
            journal = Path(tmp) / "journal.json"
            session = Session(container=name, journal=journal)
            one = timed(lambda: session.check(["touch"]), args.runs)
            every = timed(lambda: session.check(), args.runs)
            observe = timed(session.observe, args.runs)
            cli_runs = max(5, args.runs // 5)
            cli = timed(lambda: subprocess.run([sys.executable, "-m", "labkit", "--container", name, "--journal", str(journal),
                                                "check", "touch"], check=False, capture_output=True), cli_runs)
            session.close()
        print(summary("observation alone (Incus requests)", observe))
        print(summary("one step, in-process (observe+grade+journal)", one))
        print(summary("all 8 steps, in-process", every))
        print(summary("`labkit check touch` command", cli))
    finally:
        subprocess.run(["incus", "delete", "--force", name], capture_output=True)


if __name__ == "__main__":
    main()
