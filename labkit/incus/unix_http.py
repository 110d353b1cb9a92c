"""Read-only requests (GET, HEAD) to the local Incus socket, without httpx.

Why this exists: `labkit check` at a terminal should cost what a shell script
costs.  Importing httpx (with ssl, certifi, h11, httpcore, and rich and pygments
through its command-line module) and building its client (which loads the CA
bundle even for a unix socket) took about 100 ms of the command's 250 ms; these
requests need a socket, one line of HTTP and `json` (bench/checks.py measures
both).  Everything else (writes, operations, HTTPS remotes) stays with httpx.

Each request opens its own connection and speaks HTTP/1.0, so the daemon answers
with the whole body and closes: no chunked encoding, no connection reuse, safe
from several threads at once.  Errors are the ones httpx's callers already
handle: `TimeoutError` and other `OSError`s.
"""
from __future__ import annotations

# The C module under `socket`: socket.py's enums of every constant and its selectors cost more to
# import than a check's three requests; the calls made here behave alike on both.
import _socket
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

MAX_BODY = 64 * 1024 * 1024  # far above any answer of the read-only API we use


class ProtocolError(ConnectionError):
    """The other end did not answer in HTTP (a wrong INCUS_SOCKET, for example)."""


class Headers(dict):
    """Header names in lower case: HTTP header names are case-insensitive."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


@dataclass(frozen=True)
class Response:
    """The part of httpx.Response that IncusClient reads."""

    status_code: int
    reason_phrase: str
    content: bytes
    headers: Headers = field(default_factory=Headers)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


def request(sock_path: Path | str, method: str, path: str, params: dict[str, Any] | None = None,
            timeout: float = 30.0) -> Response:
    """One request on a new connection; `timeout` bounds the connection and each read."""
    if method not in ("GET", "HEAD"):
        raise ValueError(f"unix_http only reads (GET, HEAD), not {method}")
    query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
    target = f"{path}?{query}" if query else path
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(str(sock_path))
        conn.sendall(f"{method} {target} HTTP/1.0\r\nHost: incus\r\nUser-Agent: labkit\r\n\r\n".encode("ascii"))
        raw = _read_all(conn)
    finally:
        conn.close()
    return parse(raw, head_only=method == "HEAD")


def _read_all(conn: _socket.socket) -> bytes:
    chunks, size = [], 0
    while True:
        data = conn.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
        size += len(data)
        if size > MAX_BODY:
            raise ProtocolError("answer too large")


def parse(raw: bytes, head_only: bool = False) -> Response:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if not sep or len(status) < 2 or not status[0].startswith("HTTP/") or not status[1].isdigit():
        raise ProtocolError(f"not an HTTP answer: {lines[0][:80]!r}")
    headers = Headers()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    if head_only:
        body = b""
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif "content-length" in headers and headers["content-length"].isdigit():
        body = body[:int(headers["content-length"])]
    return Response(int(status[1]), status[2] if len(status) > 2 else "", body, headers)


def _dechunk(body: bytes) -> bytes:
    """HTTP/1.0 answers are never chunked by Go's server; kept for any other server behind the socket."""
    out, rest = [], body
    while True:
        size_line, sep, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"x", 16)
        except ValueError:
            raise ProtocolError("bad chunk size") from None
        if not sep or size == 0:
            return b"".join(out)
        out.append(rest[:size])
        rest = rest[size + 2:]
