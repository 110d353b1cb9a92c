"""What the values of snapshots.schedule, snapshots.pattern and snapshots.expiry mean, for the
snapshot-server chapter's checks (pure).

Incus checks a schedule's and an expiry's syntax when they are set, and a pattern only when a
snapshot is made; values it accepts may still do nothing useful (docs/second-lab-facts.md).
"""
from __future__ import annotations

import re

_BLOCK = re.compile(r"\{\{(.*?)\}\}", re.S)
_DATED = re.compile(r"^\s*creation_date\s*\|\s*date\s*:\s*(['\"])([^'\"]+)\1\s*$", re.S)
# Go layout elements (time.Format), longest first where one starts another: 2006 before 2, 002 before 02.
_GO_ELEMENT = re.compile(r"January|Jan|Monday|Mon|MST|2006|002|0[1-6]|__2|_2|15|[1-5]|PM|pm")
_YEAR, _MONTH, _DAY = {"2006", "06"}, {"January", "Jan", "01", "1"}, {"02", "_2", "2"}
_YEAR_DAY = {"002", "__2"}  # the day of the year: month and day at once
# The most days each month can have (29 February comes every four years, but comes).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def schedule_never_fires(schedule: str) -> bool:
    """Whether a snapshots.schedule Incus accepted can never fire: every part is “@never” or a cron
    line whose days of the month (plain numbers, any day of the week) exist in none of its months."""
    return all(_never(part.strip()) for part in schedule.split(", "))  # Incus splits it at “, ”


def schedule_only_at_startup(schedule: str) -> bool:
    """Whether a snapshots.schedule takes snapshots only when the instance starts (“@startup”, alone or
    with parts that never fire): a server that keeps running then never takes one, not every day."""
    parts = [part.strip() for part in schedule.split(", ")]
    return "@startup" in parts and all(p == "@startup" or _never(p) for p in parts)


def _never(part: str) -> bool:
    if part == "@never":
        return True
    fields = part.split()
    if len(fields) != 5 or fields[4] != "*":
        return False
    days, months = fields[2].split(","), fields[3].split(",")
    if not all(d.isdigit() for d in days) or not all(m.isdigit() and 1 <= int(m) <= 12 for m in months):
        return False
    return all(int(d) > _MONTH_DAYS[int(m) - 1] for d in days for m in months)


def pattern_problem(pattern: str) -> str | None:
    """What is wrong with a snapshots.pattern, as a diagnosis; None when it names snapshots by date.
    Incus checks none of it when the key is set, only when a snapshot is made."""
    outside = _BLOCK.sub("", pattern)
    # {% … %} and {# … #} (a comment: what it holds is never rendered) are not part of the chapter's template.
    if "{{" in outside or "}}" in outside or "{%" in pattern or "{#" in pattern:
        return "pattern_malformed"
    blocks = _BLOCK.findall(pattern)
    if not any("creation_date" in b for b in blocks):
        return "pattern_without_date"
    layouts = [m.group(2) for m in (_DATED.match(b) for b in blocks) if m]
    if not layouts:
        return "pattern_malformed"
    # Go layouts are written with the reference date 2006-01-02 15:04:05, not with %Y or YYYY.
    found = {e for layout in layouts for e in _GO_ELEMENT.findall(layout)}
    if not found:
        return "pattern_bad_date_layout"
    if not (found & _YEAR and (found & _YEAR_DAY or (found & _MONTH and found & _DAY))):
        return "pattern_partial_date"
    # Incus refuses a snapshot name with a space or a slash; _2 and __2 pad with spaces.
    if any(c in text for text in (outside, *layouts) for c in " /") or found & {"_2", "__2"}:
        return "pattern_bad_characters"
    return None


def expiry_is_zero(expiry: str) -> bool:
    """Incus accepts “0d”: each new snapshot then expires as it is made, and is soon deleted."""
    numbers = [int(n) for n in re.findall(r"\d+", expiry)]
    return bool(numbers) and not any(numbers)
