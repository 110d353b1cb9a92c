#!/usr/bin/env python3
"""Re-record the raw HTTP answers a `labkit check` receives, for tests/unit/fake_incus.py.

    sudo .venv/bin/python scripts/record_api_answers.py [--image ALIAS]

Launches its own instance (deleted afterwards), takes the snapshot and creates the
file (the chapter half-way), and writes tests/fixtures/api/half_way.json: for each
request the check sends (and a few it sends when the file is elsewhere or the
instance is missing), the daemon's answer byte for byte, as it comes over the socket
to an HTTP/1.0 request.  The instance's name is rewritten to `ubuntu-test`.
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.incus.client import find_endpoint  # noqa: E402
from labkit.incus.instances import wait_until_booted  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "api" / "half_way.json"


def incus(*args: str) -> None:
    subprocess.run(["incus", *args], check=True, stdin=subprocess.DEVNULL, capture_output=True)


def raw_answer(sock: Path, method: str, target: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(sock))
        conn.sendall(f"{method} {target} HTTP/1.0\r\nHost: incus\r\n\r\n".encode())
        chunks = []
        while data := conn.recv(65536):
            chunks.append(data)
    return b"".join(chunks).decode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="labkit/debian-bookworm")
    args = parser.parse_args()
    name = f"lk-rec-{uuid.uuid4().hex[:6]}"
    sock = find_endpoint().socket
    incus("launch", args.image, name)
    try:
        wait_until_booted(name)
        incus("snapshot", "create", name, "ubuntu-test-1")
        time.sleep(1.1)
        incus("exec", name, "--", "touch", "/root/this_file.txt")
        base = f"/1.0/instances/{name}"
        targets = [("GET", f"{base}?project=default"),
                   ("GET", f"{base}/snapshots?recursion=1&project=default"),
                   ("HEAD", f"{base}/files?path={quote('/root/this_file.txt', safe='')}&project=default"),
                   ("HEAD", f"{base}/files?path={quote('/this_file.txt', safe='')}&project=default"),
                   ("GET", f"{base}/files?path={quote('/home', safe='')}&project=default"),
                   ("GET", "/1.0/instances/lk-no-such-instance?project=default")]
        answers = {f"{method} {target.replace(name, 'ubuntu-test')}":
                   raw_answer(sock, method, target).replace(name, "ubuntu-test") for method, target in targets}
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps({"recorded_with": "Incus " + subprocess.run(
            ["incus", "version"], capture_output=True, text=True).stdout.split()[-1], "answers": answers},
            indent=1, ensure_ascii=False) + "\n")
        print(f"written: {OUT}")
    finally:
        subprocess.run(["incus", "delete", "--force", name], capture_output=True)


if __name__ == "__main__":
    main()
