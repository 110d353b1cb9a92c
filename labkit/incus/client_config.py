"""The official client's config.yml, read without PyYAML when it has the shape `incus` writes.

Why: every command reads the client's default remote, and importing PyYAML took
about a sixth of a `labkit check` (bench/checks.py).  `incus` writes this file in one
regular shape: top-level `key: value` or `key:`, each remote two spaces in, its
fields four spaces in, plain one-word values, `aliases: {}`.  A file in that shape is
read line by line; at the first line of any other shape (a comment, quotes, a list,
a flow mapping, a tab, a value YAML would read as a boolean or a number) PyYAML
reads the whole file instead, so the result is always what PyYAML gives.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

_LINE = re.compile(r"^(?P<indent>(?:    |  )?)(?P<key>[A-Za-z][A-Za-z0-9_-]*):(?: (?P<value>\S+))?$")
# A plain scalar that PyYAML reads as a string: starts with a letter, no spaces, no comment...
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_.:/@+%=-]*$")
# ...unless it is one of the words its resolver turns into a boolean or null.
_WORDS: dict[str, Any] = {**dict.fromkeys("yes Yes YES true True TRUE on On ON".split(), True),
                          **dict.fromkeys("no No NO false False FALSE off Off OFF".split(), False),
                          **dict.fromkeys("null Null NULL".split(), None)}


# A config.yml is a few hundred bytes: anything bigger is not read (nor is a FIFO or a device).
LIMIT = 1 << 20


def read(path: Path, limit: int = LIMIT) -> str:
    """A small regular file's text (config.yml, client.crt), which the learner may have replaced by
    anything: OSError for a FIFO or a device (a symlink to /dev/zero) or a file over `limit`,
    ValueError when it is not UTF-8."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path} is larger than {limit} bytes")
    return data.decode("utf-8")


def parse(text: str) -> dict[str, Any]:
    """The file as PyYAML's safe_load gives it (a mapping); ValueError when it is not valid, or when
    `remotes` is not a mapping of remotes or `default-remote` is a list or a mapping (incus refuses
    those too; read as they are, they made every labkit command end in a traceback)."""
    data = _parse_simple(text)
    if data is not None:
        return data
    import yaml  # PyYAML: only for a file of another shape

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    remotes = data.get("remotes")
    # Each remote's fields (addr, project, protocol, public…) are plain values: a list there could be
    # an alias tree that str() writes out without end.
    if remotes is not None and (not isinstance(remotes, dict) or not all(
            v is None or (isinstance(v, dict) and not any(isinstance(x, (dict, list)) for x in v.values()))
            for v in remotes.values())):
        raise ValueError("remotes: not a mapping of remotes")
    if isinstance(data.get("default-remote"), (dict, list)):
        raise ValueError("default-remote: not a name")
    return data


def _parse_simple(text: str) -> dict[str, Any] | None:
    """The mapping when every line has the regular shape, otherwise None."""
    top: dict[str, Any] = {}
    section: dict[str, Any] | None = None  # the top-level mapping being filled (remotes)
    entry: dict[str, Any] | None = None  # the remote being filled
    opened: list[dict[str, Any]] = []  # every `key:` mapping, which YAML reads as null if nothing follows
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            return None
        depth, key, value = len(match["indent"]) // 2, match["key"], match["value"]
        if value is not None:
            if value == "{}" and depth == 0:
                parsed: Any = {}
            elif value in _WORDS:
                parsed = _WORDS[value]
            elif _PLAIN.match(value):
                parsed = value
            else:
                return None
        target = (top, section, entry)[depth]
        if target is None or key in target:
            return None
        if value is not None:
            target[key] = parsed
            section, entry = (None, None) if depth == 0 else (section, None if depth == 1 else entry)
            continue
        if depth == 2:
            return None
        target[key] = {}
        opened.append(target[key])
        section, entry = (target[key], None) if depth == 0 else (section, target[key])
    return top if all(opened) else None


def split_address(addr: str) -> tuple[str, int]:
    """(host, port) of a remote's address as the client writes it, so two spellings of one server compare equal."""
    text = addr.strip().removeprefix("https://").split("/", 1)[0]
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or (host.count(":") and not host.endswith("]")):
        host, port = text, "8443"  # an IPv6 address without port, or no port: Incus' default
    return host.strip("[]").lower(), int(port)
