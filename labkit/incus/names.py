"""Incus' naming rules, checked before any request so a typo gets a clear message."""
from __future__ import annotations

import re

from ..errors import InvalidName
from ..i18n import M

# Instance names are hostnames: letters, digits and hyphens, at most 63,
# not starting with a digit or a hyphen, not ending with a hyphen.
INSTANCE_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def validate_instance(name: str) -> str:
    if not INSTANCE_NAME.match(name or ""):
        raise InvalidName(M("names.instance", "“{name}” is not a valid Incus instance name: use 1 to "
                                              "63 letters, digits or hyphens, starting with a letter "
                                              "and not ending with a hyphen (for example ubuntu-test).", name=name))
    return name


def validate_snapshot(name: str) -> str:
    if not name or "/" in name or name in {".", ".."} or any(ch.isspace() for ch in name) or len(name) > 255:
        raise InvalidName(M("names.snapshot", "“{name}” is not a valid snapshot name: it must not be empty and "
                            "must not contain “/” or spaces (for example snap0, as Incus names them).", name=name))
    return name


def validate_project(name: str) -> str:
    if not name or "/" in name or any(ch.isspace() for ch in name) or len(name) > 63:
        raise InvalidName(M("names.project", "“{name}” is not a valid Incus project name.", name=name))
    return name
