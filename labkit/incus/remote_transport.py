"""An httpx transport that lets IncusClient talk HTTPS to a remote server (a class server)."""
from __future__ import annotations

import ssl

import httpx

from .certs import DEFAULT_PORT, Remote, ssl_context


class RemoteTransport(httpx.BaseTransport):
    """Lets IncusClient (which addresses http://incus/...) talk HTTPS to a remote server."""

    def __init__(self, address: str, context: ssl.SSLContext):
        host, _, port = address.rpartition(":") if address.rpartition(":")[2].isdigit() else (address, "", "")
        self.host = host.strip("[]") or address
        self.port = int(port) if port else DEFAULT_PORT
        self._inner = httpx.HTTPTransport(verify=context)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="https", host=self.host, port=self.port)
        request.headers["Host"] = f"{self.host}:{self.port}"
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def transport_for(remote: Remote) -> RemoteTransport:
    """HTTPS to the remote, trusting exactly its pinned certificate, with the remote's client certificate."""
    return RemoteTransport(remote.address, ssl_context(remote.client, remote.server_cert))
