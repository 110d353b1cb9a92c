"""The learner's progress over an attempt, read from the journal (for `labkit report`)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .engine import Chapter
from ..i18n import M

HEADERS = (M("report.step", "Step"), M("report.status", "Status"), M("report.points", "Points"),
           M("report.time", "Time to pass"), M("report.attempts", "Checks"), M("report.hints", "Hints"))
NEVER = M("report.never", "not checked")


def attempt_report(chapter: Chapter, journal: dict[str, Any]) -> dict[str, Any]:
    """Latest status, time to first pass, number of checks and hints for each step."""
    started = datetime.fromisoformat(journal["started_at"])
    latest = {c["step"]: c["status"] for c in journal.get("checks", [])}
    rows, earned = [], 0
    for step in chapter.steps:
        status = latest.get(step.id)
        first = journal.get("first_pass", {}).get(step.id)
        points = step.points if status == "passed" else 0
        earned += points
        rows.append({"id": step.id, "status": status, "points": points, "possible": step.points,
                     "seconds_to_pass": round((datetime.fromisoformat(first) - started).total_seconds()) if first else None,
                     "checks": journal.get("attempts", {}).get(step.id, 0), "hints": journal.get("hints", {}).get(step.id, 0)})
    return {"lab": chapter.id, "container": journal["container"], "attempt": journal.get("attempt", 1),
            "started_at": journal["started_at"], "score": {"earned": earned, "possible": sum(s.points for s in chapter.steps)},
            "steps": rows}


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}\u00a0min {secs:02d}\u00a0s" if minutes else f"{secs}\u00a0s"  # a unit stays with its number


def report_table(chapter: Chapter, data: dict[str, Any], lang: str) -> str:
    from .render import WORDS
    from .engine import Status

    titles = {s.id: s.title.render(lang) for s in chapter.steps}
    table = [[h.render(lang) for h in HEADERS]]
    for row in data["steps"]:
        status = WORDS[Status(row["status"])].render(lang) if row["status"] else NEVER.render(lang)
        table.append([titles[row["id"]], status, f"{row['points']}/{row['possible']}", _duration(row["seconds_to_pass"]),
                      str(row["checks"]), str(row["hints"])])
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    score = data["score"]
    lines.append(M("render.score", "Score: {earned}/{possible}", **score).render(lang))
    return "\n".join(lines)
