"""Learners' client certificates, their access bundle, and an HTTPS transport that uses them.

A bundle is a folder the official client reads as `INCUS_CONF`: `client.crt`,
`client.key`, `servercerts/REMOTE.crt` and a `config.yml` whose default remote points
at the server's HTTPS address and the learner's project.  Keys and certificates are
created with mode 0600 inside a 0700 folder, with the `openssl` command (Debian's
`openssl` package; the `cryptography` package is not needed).

client.py imports this module for every command (to read the client's config), so the
heavy modules (ssl, httpx, hashlib, subprocess) are imported by the functions that use them:
`labkit check` on the local socket needs none of them.
"""
from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import IncusAccessDenied, IncusUnavailable, SetupError
from ..i18n import M
from . import client_config

if TYPE_CHECKING:
    import ssl


DEFAULT_PORT = 8443
CERT_DAYS = 365


@dataclass(frozen=True)
class ClientCert:
    """A client certificate and its key, as files."""

    cert: Path
    key: Path

    @property
    def pem(self) -> str:
        return self.cert.read_text(encoding="ascii")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.pem)

    def exists(self) -> bool:
        return self.cert.is_file() and self.key.is_file()


def der_base64(pem: str) -> str:
    """What POST /1.0/certificates wants: the certificate as base64 DER (the PEM body)."""
    lines = [line.strip() for line in pem.strip().splitlines()]
    return "".join(line for line in lines if line and not line.startswith("-----"))


def fingerprint(pem: str) -> str:
    import base64
    import hashlib

    return hashlib.sha256(base64.b64decode(der_base64(pem))).hexdigest()


def private_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def generate(folder: Path, common_name: str, days: int = CERT_DAYS) -> ClientCert:
    """A new ECDSA P-384 client certificate (what `incus` itself makes), owner-only files."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        raise SetupError(M("class.certs.no_openssl", "The “openssl” command is needed to create the "
                                                     "learners' certificates. Install it (Debian and Ubuntu: "
                                                     "“apt-get install openssl”) and run the command again."))
    private_folder(folder)
    final = ClientCert(folder / "client.crt", folder / "client.key")
    tmp = ClientCert(folder / ".client.crt.tmp", folder / ".client.key.tmp")
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes",
           "-days", str(days), "-subj", f"/CN={common_name}", "-addext", "extendedKeyUsage=clientAuth",
           "-keyout", str(tmp.key), "-out", str(tmp.cert)]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise SetupError(M("class.certs.openssl_failed", "openssl could not create a certificate in {folder}: {detail}",
                           folder=str(folder), detail=done.stderr.strip()[-300:]))
    for path in (tmp.key, tmp.cert):
        os.chmod(path, 0o600)
    # The key first: a certificate on disk always has its key beside it.
    os.replace(tmp.key, final.key)
    os.replace(tmp.cert, final.cert)
    return final


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read, atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    # Root writes into folders a learner owns (the hub's access folders): never through a link they
    # planted at the temporary name, never into a file that was already there.
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class Requests(Protocol):
    """What trusting a certificate needs of a client (IncusClient has it; client.py imports this module)."""

    def request(self, method: str, path: str, **kwargs: Any) -> Any: ...


def ensure_trusted(client: Requests, *, name: str, project: str, folder: Path,
                   existing: list[dict[str, Any]]) -> str:
    """The folder's certificate, trusted by the server and restricted to one project; its fingerprint."""
    local = ClientCert(folder / "client.crt", folder / "client.key")
    if not local.exists():
        local = generate(folder, name.replace(":", " "))
    wanted, present = local.fingerprint, False
    for entry in existing:
        if entry["fingerprint"] == wanted and entry.get("restricted") and entry.get("projects") == [project]:
            present = True
        else:  # an older certificate of this learner, or one with other rights
            client.request("DELETE", f"/1.0/certificates/{entry['fingerprint']}", project=False)
    if not present:
        client.request("POST", "/1.0/certificates", project=False, json={
            "name": name, "type": "client", "restricted": True, "projects": [project],
            "certificate": der_base64(local.pem)})
    return wanted


# -- the access bundle ----------------------------------------------------
def public_address(listen: str) -> str:
    """Where learners connect: a wildcard listen address becomes this host's name."""
    host, _, port = listen.rpartition(":") if listen.rpartition(":")[2].isdigit() else (listen, "", str(DEFAULT_PORT))
    if host in ("", "0.0.0.0", "[::]", "::"):
        import socket

        host = socket.getfqdn()
    return f"{host}:{port}"


def url(address: str) -> str:
    return address if address.startswith("https://") else f"https://{address}"


def config_yml(remote: str, address: str, project: str) -> str:
    """The official client's config.yml, with the class server as default remote."""
    return (f"default-remote: {remote}\nremotes:\n  {remote}:\n    addr: {url(address)}\n    auth_type: tls\n"
            f"    project: {project}\n    protocol: incus\n    public: false\naliases: {{}}\n")


def write_bundle(folder: Path, *, remote: str, address: str | None, project: str, server_cert: str,
                 readme: str) -> None:
    private_folder(folder)
    private_folder(folder / "servercerts")
    write_private(folder / "servercerts" / f"{remote}.crt", server_cert)
    if address:
        write_private(folder / "config.yml", config_yml(remote, address, project))
    elif (folder / "config.yml").exists():
        (folder / "config.yml").unlink()
    write_private(folder / "README.txt", readme)


def bundle_readme(*, cls: str, learner: str, project: str, container: str, address: str | None,
                  server_cert: str, lang: str) -> str:
    """The README.txt of a learner's folder, in the class's language."""
    parts = [M("class.bundle.title", "labkit — class “{name}”: access for {learner}", name=cls, learner=learner)]
    if address:
        parts.append(M("class.bundle.conf", "Use this folder as your Incus configuration. In a terminal, from "
                                            "this folder:\n\n"
                                            "    export INCUS_CONF=\"$PWD\"\n"
                                            "    incus list\n\n"
                                            "Your incus commands then go to the class server ({address}), into "
                                            "your own project “{project}”, where your instance “{container}” is "
                                            "waiting. labkit reads the same variable: “labkit check” grades your "
                                            "work there, with no other option.",
                       address=address, project=project, container=container))
        parts.append(M("class.bundle.remote", "Or add the class server to your own Incus configuration (only if "
                                              "~/.config/incus/client.crt does not exist yet, since it would be "
                                              "replaced): copy client.crt and client.key into ~/.config/incus/, "
                                              "then run\n\n"
                                              "    incus remote add {remote} https://{address} --project {project} "
                                              "--accept-certificate\n"
                                              "    incus remote switch {remote}\n\n"
                                              "The server's certificate fingerprint is {fingerprint} (the "
                                              "certificate is in servercerts/{remote}.crt).",
                       remote=cls, address=address, project=project,
                       fingerprint=fingerprint(server_cert) if server_cert else "?"))
    else:
        parts.append(M("class.bundle.no_listener", "The class server does not accept network connections "
                                                   "yet, so this folder holds your certificate and key "
                                                   "but no config.yml. Your instructor must enable them "
                                                   "(“labkit class create {name} --listen ADDRESS”) and "
                                                   "give you this folder again.", name=cls))
    parts.append(M("class.bundle.private", "client.key lets whoever holds it act in your project: keep this "
                                           "folder to yourself, and delete it at the end of the session."))
    return "\n\n".join(part.render(lang) for part in parts) + "\n"


@dataclass(frozen=True)
class Remote:
    """An HTTPS remote as a bundle (or the official client's config folder) describes it."""

    name: str
    address: str
    project: str
    conf: Path

    @property
    def client(self) -> ClientCert:
        return ClientCert(self.conf / "client.crt", self.conf / "client.key")

    @property
    def server_cert(self) -> Path:
        return self.conf / "servercerts" / f"{self.name}.crt"


def read_remote(conf: Path, name: str | None = None) -> Remote | None:
    """The default (or named) remote of an INCUS_CONF folder, when it is an HTTPS one."""
    path = conf / "config.yml"
    if not path.is_file():
        return None
    try:
        data = client_config.parse(client_config.read(path))
    except (OSError, ValueError) as exc:
        raise IncusUnavailable(M("certs.config_unreadable", "The Incus client configuration {path} cannot be "
                                                            "read ({detail}). Fix it, or point INCUS_CONF at "
                                                            "the access folder your instructor gave you.",
                                 path=str(path),
                                 detail=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)) from exc
    name = name or data.get("default-remote")
    entry = (data.get("remotes") or {}).get(name) or {}
    addr = str(entry.get("addr", ""))
    if not addr.startswith("https://") or entry.get("protocol", "incus") != "incus":
        return None
    return Remote(str(name), addr.removeprefix("https://").rstrip("/"), str(entry.get("project") or "default"), conf)


def ssl_context(client: ClientCert, server_cert: Path) -> ssl.SSLContext:
    """Trust exactly the server's own certificate (pinned, as the official client does)."""
    import ssl

    try:
        context = ssl.create_default_context(cafile=str(server_cert))
        # The pinned certificate is the trust anchor; its names need not match the address.
        context.check_hostname = False
        context.load_cert_chain(str(client.cert), str(client.key))
    except (OSError, ssl.SSLError) as exc:
        raise IncusAccessDenied(M("certs.unusable", "The certificates of {folder} cannot be used "
                                                    "({detail}): it needs client.crt, client.key and "
                                                    "servercerts/ with the server's certificate. Use "
                                                    "the whole access folder your instructor gave you.",
                                  folder=str(client.cert.parent), detail=str(exc))) from exc
    return context
