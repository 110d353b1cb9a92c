"""A small Incus REST client over the local unix socket (httpx), and its error mapping.

Everything labkit knows about a container comes through here, never from
/var/lib/incus directly, so the same code works on a remote or clustered server.
httpx is imported when the first request needs it: a client made with
`lean_reads=True` (the `labkit` command) sends its GET and HEAD requests to a
local socket through unix_http.py instead, and a `labkit check` never imports httpx.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from ..errors import (
    IncusAccessDenied,
    IncusRequestFailed,
    IncusTimeout,
    IncusUnavailable,
    InstanceNotFound,
)
from ..i18n import M
from . import unix_http
from .certs import Remote, read_remote
from .timestamps import parse_modified

if TYPE_CHECKING:
    import httpx

SYSTEM_SOCKET = Path("/var/lib/incus/unix.socket")
USER_SOCKET = Path("/var/lib/incus/unix.socket.user")
ADMIN_GROUP = "incus-admin"
USER_GROUP = "incus"
FORBIDDEN_PROJECT = "User does not have permissions for project"


@dataclass(frozen=True)
class Endpoint:
    """Where to reach the daemon and in which project, as the official client decides."""

    socket: Path
    project: str
    restricted_socket: bool = False
    # An HTTPS remote (a class access folder, or the official client's config): socket is unused.
    remote: Remote | None = None


def find_endpoint(project: str | None = None, environ: dict[str, str] | None = None) -> Endpoint:
    env = os.environ if environ is None else environ
    if env.get("INCUS_SOCKET"):
        return Endpoint(Path(env["INCUS_SOCKET"]), project or "default")
    # Like the official client: the default remote of $INCUS_CONF (or ~/.config/incus), when it is
    # an HTTPS one, with its project (a learner's class access folder is such a folder).
    conf = Path(env.get("INCUS_CONF") or Path(env.get("HOME") or Path.home()) / ".config" / "incus")
    remote = read_remote(conf)
    if remote is not None:
        return Endpoint(conf / "config.yml", project or remote.project, remote=remote)
    incus_dir = env.get("INCUS_DIR")
    system = Path(incus_dir, "unix.socket") if incus_dir else SYSTEM_SOCKET
    user = Path(incus_dir, "unix.socket.user") if incus_dir else USER_SOCKET
    # The official client prefers the full-access socket and falls back to the
    # per-user one, whose default project is user-<uid>.
    if system.exists() and os.access(system, os.R_OK | os.W_OK):
        return Endpoint(system, project or "default")
    if user.exists() and os.access(user, os.R_OK | os.W_OK):
        return Endpoint(user, project or f"user-{os.getuid()}", restricted_socket=True)
    return Endpoint(system, project or "default")


@dataclass(frozen=True)
class FileInfo:
    """What a HEAD on the files API says of a path."""

    path: str
    kind: str
    modified: datetime | None


class IncusClient:
    """Synchronous client; one instance per process is enough (connections are pooled)."""

    def __init__(self, endpoint: Endpoint | None = None, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, lean_reads: bool = False):
        self.endpoint = endpoint or find_endpoint()
        self.project = self.endpoint.project
        self.timeout = timeout
        # Tests inject a transport that replays answers recorded from a real daemon.
        self._transport = transport
        self._lean = lean_reads and transport is None and self.endpoint.remote is None
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        """The httpx client, made on first use (observe() sends its first requests from threads)."""
        with self._http_lock:
            if self._http is None:
                import httpx

                from .remote_transport import transport_for  # with httpx, only when a request needs it

                self._http = httpx.Client(
                    transport=self._transport or (transport_for(self.endpoint.remote) if self.endpoint.remote
                                                  else httpx.HTTPTransport(uds=str(self.endpoint.socket))),
                    base_url="http://incus",
                    timeout=self.timeout,
                )
            return self._http

    # -- plumbing ---------------------------------------------------------
    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> IncusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _params(self, params: dict[str, Any] | None, project: bool) -> dict[str, Any]:
        merged = dict(params or {})
        if project and "all-projects" not in merged:
            merged.setdefault("project", self.project)
        return merged

    def raw(self, method: str, path: str, *, params: dict[str, Any] | None = None,
            json: Any = None, project: bool = True, timeout: float | None = None,
            content: bytes | None = None, headers: dict[str, str] | None = None) -> httpx.Response | unix_http.Response:
        seconds = self.timeout if timeout is None else timeout
        if self._lean and method in ("GET", "HEAD") and json is None and content is None and not headers:
            try:
                return unix_http.request(self.endpoint.socket, method, path, self._params(params, project), seconds)
            except TimeoutError as exc:
                raise self._timeout_error(seconds, path) from exc
            except OSError as exc:
                raise self._connect_error(exc) from exc
        import httpx

        try:
            return self.http.request(
                method, path, params=self._params(params, project), json=json,
                content=content, headers=headers, timeout=seconds,
            )
        except httpx.TimeoutException as exc:
            raise self._timeout_error(seconds, path) from exc
        except (httpx.TransportError, OSError) as exc:
            raise self._connect_error(exc) from exc

    def _timeout_error(self, seconds: float, path: str) -> IncusTimeout:
        return IncusTimeout(M("incus.timeout", "The Incus daemon did not answer within {seconds} "
                                               "seconds ({path}). It may be overloaded or stuck; "
                                               "try again, or look at its log.", seconds=int(seconds), path=path))

    def _connect_error(self, exc: Exception) -> Exception:
        if self.endpoint.remote is not None:
            return IncusUnavailable(M("incus.remote_down", "The Incus server {address} (remote “{remote}” "
                                                           "of {conf}) is not reachable: {detail}. Check "
                                                           "the address with your instructor; the server "
                                                           "must listen on the network (core.https_address).",
                                      address=self.endpoint.remote.address, remote=self.endpoint.remote.name,
                                      conf=str(self.endpoint.remote.conf), detail=str(exc)))
        sock = self.endpoint.socket
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, PermissionError) or (sock.exists() and not os.access(sock, os.R_OK | os.W_OK)):
            return IncusAccessDenied(M("incus.no_access", "You may not use the Incus socket {socket}. Ask an "
                                                          "administrator to add you to the “{group}” group (sudo "
                                                          "usermod -aG {group} $USER), then open a new session (or run "
                                                          "“newgrp {group}”). Members of the “{user_group}” group can "
                                                          "use {user_socket} instead, restricted to their own project.",
                                       socket=str(sock), group=ADMIN_GROUP, user_group=USER_GROUP,
                                       user_socket=str(USER_SOCKET)))
        return IncusUnavailable(M("incus.down", "The Incus daemon is not reachable: the socket {socket} is missing "
                                                "or nobody answers on it. Start the daemon (“labkit setup” does "
                                                "it, or “systemctl start incus” where systemd runs), or point "
                                                "INCUS_SOCKET at the right socket.", socket=str(sock)))

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return its metadata, waiting for background operations."""
        wait = kwargs.pop("wait", True)
        response = self.raw(method, path, **kwargs)
        body = self._body(response, path)
        if body.get("type") == "async" and wait:
            # A long operation (an image pull, a copy) gets the time its caller gave the request.
            return self.wait(body["operation"], timeout=kwargs.get("timeout"))
        return body.get("metadata")

    def _body(self, response: httpx.Response | unix_http.Response, path: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text, "error_code": response.status_code}
        if response.status_code >= 400 or body.get("type") == "error":
            raise self._api_error(response.status_code, str(body.get("error", "")), path)
        return body

    def _api_error(self, code: int, message: str, path: str) -> Exception:
        if FORBIDDEN_PROJECT in message or code == 403:
            return IncusAccessDenied(M("incus.project_forbidden", "Incus refused access to project “{project}”: "
                                                                  "{detail}. Use the project you were given "
                                                                  "(--project), or ask your instructor to check "
                                                                  "your certificate's restrictions.",
                                       project=self.project, detail=message or str(code)))
        return IncusRequestFailed(M("incus.request_failed", "Incus refused the request {path} (HTTP {code}): {detail}",
                                    path=path, code=code, detail=message))

    def wait(self, operation: str, timeout: float | None = None) -> Any:
        seconds = int(timeout or self.timeout)
        # A cluster member answers with the project in the operation's URL (“/1.0/operations/ID?project=P”).
        path, _, query = operation.partition("?")
        params = {"project": self.project} | dict(parse_qsl(query)) | {"timeout": seconds}
        response = self.raw("GET", f"{path}/wait", params=params, project=False, timeout=seconds + 5)
        meta = self._body(response, operation).get("metadata") or {}
        if meta.get("status") == "Running":
            raise IncusTimeout(M("incus.operation_timeout", "An Incus operation ({description}) did "
                                                            "not finish within {seconds} seconds.",
                                 description=meta.get("description", operation), seconds=seconds))
        if meta.get("status_code", 200) >= 400 or meta.get("err"):
            raise IncusRequestFailed(M("incus.operation_failed", "Incus could not finish “{description}”: {detail}",
                                       description=meta.get("description", operation), detail=meta.get("err", "")))
        return meta

    # -- reading state ----------------------------------------------------
    def server(self) -> dict[str, Any]:
        return self.request("GET", "/1.0", project=False)

    def instance(self, name: str) -> dict[str, Any]:
        response = self.raw("GET", f"/1.0/instances/{quote(name)}")
        if response.status_code == 404:
            raise InstanceNotFound(M("incus.instance_not_found", "There is no instance named “{name}” in project "
                                                                 "“{project}”. Check the name (--container), or "
                                                                 "create the lab instance with “labkit setup”.",
                                     name=name, project=self.project))
        return self._body(response, f"/1.0/instances/{name}")["metadata"]

    def instance_or_none(self, name: str) -> dict[str, Any] | None:
        try:
            return self.instance(name)
        except InstanceNotFound:
            return None

    def snapshots(self, name: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/1.0/instances/{quote(name)}/snapshots", params={"recursion": 1}) or []

    def file_info(self, name: str, path: str) -> FileInfo | None:
        """HEAD, not GET: a GET downloads the file and emits an event."""
        response = self.raw("HEAD", f"/1.0/instances/{quote(name)}/files", params={"path": path})
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise self._api_error(response.status_code, response.reason_phrase, path)
        return FileInfo(path, response.headers.get("X-Incus-Type", "file"),
                        parse_modified(response.headers.get("X-Incus-Modified")))

    def read_head(self, path: str, limit: int, timeout: float | None = None) -> str:
        """At most the first `limit` bytes of a GET (an exec's recorded output): never read whole."""
        import httpx

        data = b""
        try:
            with self.http.stream("GET", path, params=self._params(None, True),
                                   timeout=self.timeout if timeout is None else timeout) as response:
                if response.status_code >= 400:
                    raise self._api_error(response.status_code, response.reason_phrase, path)
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) >= limit:
                        break
        except httpx.TimeoutException as exc:
            raise IncusTimeout(M("incus.timeout", "The Incus daemon did not answer within {seconds} seconds ({path}). "
                                                  "It may be overloaded or stuck; try again, or look at its log.",
                                 seconds=int(timeout or self.timeout), path=path)) from exc
        except (httpx.TransportError, OSError) as exc:
            raise self._connect_error(exc) from exc
        return data[:limit].decode("utf-8", "replace")

    def all_instances(self, recursion: int = 2) -> list[dict[str, Any]]:
        return self.request("GET", "/1.0/instances", params={"recursion": recursion, "all-projects": "true"},
                            project=False) or []

