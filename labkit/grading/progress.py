"""The learner's progress over an attempt, read from the journal (for `labkit report`)."""
from __future__ import annotations

from typing import Any

from ..i18n import M
from .engine import Chapter, Status
from .journal import Attempt
from .render import WORDS

HEADERS = (M("report.step", "Step"), M("report.status", "Status"), M("report.points", "Points"),
           M("report.time", "Time to pass"), M("report.attempts", "Checks"), M("report.hints", "Hints"))
NEVER = M("report.never", "not checked")


def attempt_report(chapter: Chapter, attempt: Attempt) -> dict[str, Any]:
    """Latest status, time to first pass, number of checks and hints for each step."""
    latest = attempt.latest()
    rows, earned = [], 0
    for step in chapter.steps:
        status = latest.get(step.id)
        first = attempt.first_pass.get(step.id)
        points = step.points if status is Status.PASSED else 0
        earned += points
        rows.append({"id": step.id, "status": status.value if status else None, "points": points,
                     "possible": step.points,
                     "seconds_to_pass": round((first - attempt.started_at).total_seconds()) if first else None,
                     "checks": attempt.attempts.get(step.id, 0), "hints": attempt.hints.get(step.id, 0)})
    return {"lab": chapter.id, "container": attempt.container, "attempt": attempt.number,
            "started_at": attempt.started_at.isoformat(),
            "score": {"earned": earned, "possible": sum(s.points for s in chapter.steps)},
            "steps": rows}


def format_duration(seconds: int | None) -> str:
    """A duration as reports show it (“12 min 05 s”, a no-break space before each unit), “—” when there is none."""
    if seconds is None:
        return "—"
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}\u00a0min {secs:02d}\u00a0s" if minutes else f"{secs}\u00a0s"  # a unit stays with its number


def report_table(chapter: Chapter, data: dict[str, Any], lang: str) -> str:
    titles = {s.id: s.title.render(lang) for s in chapter.steps}
    table = [[h.render(lang) for h in HEADERS]]
    for row in data["steps"]:
        status = WORDS[Status(row["status"])].render(lang) if row["status"] else NEVER.render(lang)
        table.append([titles[row["id"]], status, f"{row['points']}/{row['possible']}",
                      format_duration(row["seconds_to_pass"]), str(row["checks"]), str(row["hints"])])
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    score = data["score"]
    lines.append(M("render.score", "Score: {earned}/{possible}", **score).render(lang))
    return "\n".join(lines)
