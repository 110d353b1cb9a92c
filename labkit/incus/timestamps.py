"""Incus' two time formats, parsed without the HTTP client (the event recorder stays light)."""
from __future__ import annotations

import re
from datetime import datetime


def parse_modified(value: str | None) -> datetime | None:
    """X-Incus-Modified is Go's time format ("2026-11-26 04:47:12 +0000 UTC"), to the second."""
    if not value:
        return None
    # A pattern and fromisoformat rather than strptime, which imports _strptime and locale at every check.
    match = _GO_TIME.match(value)
    try:
        return datetime.fromisoformat(f"{match[1]}T{match[2]}{match[3]}") if match else None
    except ValueError:
        return None


def parse_incus_time(value: str | None) -> datetime | None:
    """Incus timestamps are RFC 3339 with nanoseconds, which fromisoformat rejects."""
    if not value or value.startswith("0001-01-01"):
        return None
    match = _RFC3339.match(value)
    if match is None:
        return None
    head, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z", "z") else zone
    return datetime.fromisoformat(f"{head}.{(fraction or '0')[:6].ljust(6, '0')}{zone}")


_GO_TIME = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d{4})(?: |$)")
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)?$")
