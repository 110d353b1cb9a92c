#!/usr/bin/env python3
"""Re-record the observations that the unit tests replay, from a real Incus daemon.

    sudo .venv/bin/python scripts/record_observations.py [--image ALIAS]

Each scenario runs on its own fresh instance (deleted afterwards) and writes
tests/fixtures/observations/<scenario>.json: the Observation as labkit saw it, the
baseline taken when the instance was new, and the lifecycle events a listener saw.
The unit tests decide what each scenario must grade to; this script only records.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.incus.client import IncusClient  # noqa: E402
from labkit.incus.events import Listener  # noqa: E402
from labkit.incus.instances import wait_until_booted  # noqa: E402
from labkit.labs.snapshots.observe import observe  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "observations"
SNAP, FILE = "ubuntu-test-1", "/root/this_file.txt"


def incus(*args: str) -> None:
    subprocess.run(["incus", *args], check=True, stdin=subprocess.DEVNULL, capture_output=True)


def chapter_until(name: str, last: str) -> None:
    """Do the chapter's actions in order, up to and including `last`."""
    actions: list[tuple[str, Callable[[], None]]] = [
        ("snapshot", lambda: (incus("snapshot", "create", name, SNAP), time.sleep(1.1))),
        ("touch", lambda: incus("exec", name, "--", "touch", FILE)),
        ("stop", lambda: incus("stop", name)),
        ("restore", lambda: incus("snapshot", "restore", name, SNAP)),
        ("start", lambda: incus("start", name)),
        ("cleanup", lambda: incus("snapshot", "delete", name, SNAP)),
    ]
    for step, action in actions:
        action()
        if step == last:
            return


SCENARIOS: dict[str, Callable[[str], None]] = {
    "fresh": lambda n: None,
    "snapshot_taken": lambda n: chapter_until(n, "snapshot"),
    "wrong_snapshot_name": lambda n: incus("snapshot", "create", n, "snap0"),
    "file_after_snapshot": lambda n: chapter_until(n, "touch"),
    "file_before_snapshot": lambda n: (incus("exec", n, "--", "touch", FILE), time.sleep(1.1),
                                       incus("snapshot", "create", n, SNAP)),
    "file_elsewhere": lambda n: (incus("snapshot", "create", n, SNAP),
                                 incus("exec", n, "--", "touch", "/tmp/this_file.txt")),
    "stopped": lambda n: chapter_until(n, "stop"),
    "restored_not_started": lambda n: chapter_until(n, "restore"),
    "restored_running": lambda n: chapter_until(n, "start"),
    "restored_while_running": lambda n: (chapter_until(n, "touch"), incus("snapshot", "restore", n, SNAP)),
    "rm_instead_of_restore": lambda n: (chapter_until(n, "touch"), incus("exec", n, "--", "rm", FILE)),
    "cleaned_up": lambda n: chapter_until(n, "cleanup"),
    "instance_deleted": lambda n: (chapter_until(n, "cleanup"), incus("stop", n), incus("delete", n)),
}


def record(scenario: str, image: str) -> dict:
    name = f"lk-rec-{uuid.uuid4().hex[:6]}"
    incus("launch", image, name)
    client = IncusClient()
    events: list[dict] = []
    try:
        wait_until_booted(name)
        fresh = observe(client, name, SNAP, FILE).instance
        listener = Listener(client.endpoint, name, events.append).start()
        SCENARIOS[scenario](name)
        time.sleep(0.3)  # let the last events arrive
        listener.stop()
        obs = observe(client, name, SNAP, FILE)
    finally:
        subprocess.run(["incus", "delete", "--force", name], capture_output=True)
        client.close()
    server = IncusClient().server()["environment"]["server_version"]
    # Names differ at every recording; the tests use the chapter's defaults.
    text = json.dumps({"observation": obs.to_json(), "events": events,
                       "baseline": {"uuid": fresh.uuid, "generation": fresh.generation}}).replace(name, "ubuntu-test")
    return {"recorded_with": f"Incus {server}", "scenario": scenario, **json.loads(text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="labkit/debian-bookworm")
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for scenario in args.scenarios:
        data = record(scenario, args.image)
        (OUT / f"{scenario}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"recorded {scenario}")


if __name__ == "__main__":
    main()
