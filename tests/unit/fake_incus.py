"""A unix socket that answers like the Incus daemon did, from answers recorded byte for byte.

tests/fixtures/api/half_way.json holds the daemon's answers to the requests a
`labkit check` sends (re-record with scripts/record_api_answers.py).  The server
answers each request on its own connection, as Go's server does for HTTP/1.0, and
answers 404 to any request it has no recording for.
"""
from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

ANSWERS = Path(__file__).resolve().parents[1] / "fixtures" / "api" / "half_way.json"
NOT_FOUND = ('HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n'
             '{"type":"error","status":"","status_code":0,"operation":"","error_code":404,'
             '"error":"Not found","metadata":null}')


class FakeIncus:
    def __init__(self, path: Path, answers: dict[str, str] | None = None):
        self.path = path
        self.answers = answers if answers is not None else json.loads(ANSWERS.read_text())["answers"]
        self.requests: list[str] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(16)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeIncus:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # close() alone leaves the thread blocked in accept() until its join times out;
        # shutdown() wakes it (accept() then fails with EINVAL), so teardown is immediate.
        try:
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            raise RuntimeError("the fake daemon's accept() did not wake on shutdown")

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:  # shut down by __exit__
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            method, target, _ = data.split(b"\r\n", 1)[0].decode().split(" ", 2)
            key = f"{method} {target}"
            self.requests.append(key)
            conn.sendall(self.answers.get(key, NOT_FOUND).encode())
