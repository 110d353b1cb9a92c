"""Showing a `ClassStatus` in a terminal and as JSON: `labkit class status` (plain, rich,
--json) and the dashboard's status.json; the report's files are in report_files.py.

Every view renders the same graded results (so the same verdicts), headed by the steps'
titles in the class language, with learners who have not started shown apart (progress.py).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from ..grading.engine import Result, Status
from ..grading.progress import format_duration
from ..grading.render import HINT, SYMBOLS, WORDS, colon
from ..i18n import M, Message
from ..terminal import terminal
from .progress import NOT_STARTED, bounded
from .status import TODO, ClassStatus, LearnerStatus

# What each symbol is called in JSON (a step's "shown"): its status, or one of the views' own states.
SHOWN = {"✔": "passed", "✘": "failed", "?": "not_verified", TODO: "todo", NOT_STARTED: "not_started"}


# -- the terminal table and JSON -----------------------------------------
LEGEND = M("class.status.legend_started",
           "✔ passed   ✘ failed   ? not verified   · not reached (an earlier step is not done yet)   "
           "○ not started (nothing done since the class was created)")
HEAD_LEARNER = M("class.status.learner", "Learner")
HEAD_SCORE = M("class.status.score", "Score")
HEAD_NOW = M("class.status.now_on", "Now on")
HEAD_FOR = M("class.status.for", "For")
NOW_NOT_STARTED = M("class.status.not_started", "not started")
NOW_DONE = M("class.status.done", "all done")
STUCK_CELL = M("class.status.stuck_cell", "{duration} ⚠ stuck")
STUCK = M("class.status.stuck", "⏳ {learner} has been on “{step}” for {duration}: {message}")
COMMON = M("class.status.common", "{step}: {count} of {total} learners — {message}")
NO_LEARNER = M("class.status.no_learner", "The class has no learners.")


# Learners whose evidence cannot be trusted or gathered: named one by one, a count would hide them.
ALERTS = ("instance_replaced", "instance_renamed", "baseline_changed", "unobserved")
ALERT = M("class.status.alert", "⚠ {learner}: {message}")


def alerts(status: ClassStatus) -> list[tuple[str, Result]]:
    found = []
    for ls in status.learners:
        result = next((r for r in ls.results if r.diagnosis in ALERTS), None)
        if result is not None:
            found.append((ls.learner, result))
    return found


def alert_lines(status: ClassStatus, lang: str, render: Callable[[Message, str], str] = terminal) -> list[str]:
    """For terminals by default: an alert quotes what the learner wrote (user.labkit.* keys)."""
    return [render(ALERT.bind(learner=learner, message=result.message), lang) for learner, result in alerts(status)]


def step_heads(status: ClassStatus, lang: str) -> list[str]:
    """The steps' titles in the class language, numbered, as the notebook shows them."""
    return [f"{i}. {s.title.render(lang)}" for i, s in enumerate(status.chapter.steps, 1)]


def status_rows(status: ClassStatus, lang: str) -> list[list[str]]:
    rows = [[HEAD_LEARNER.render(lang), *member_head(status, lang), *step_heads(status, lang), HEAD_SCORE.render(lang),
             HEAD_NOW.render(lang), HEAD_FOR.render(lang)]]
    for ls in status.learners:
        rows.append([ls.learner, *member_cell(status, ls.learner, lang), *ls.shown(),
                     f"{ls.score.earned}/{ls.score.possible}", *now_cells(status, ls, lang)])
    return rows


def now_cells(status: ClassStatus, ls: LearnerStatus, lang: str) -> list[str]:
    """The step the learner is on, and for how long (marked past the class's threshold)."""
    progress = ls.progress
    if progress is None:
        return ["", ""]
    if progress.not_started:
        return [NOW_NOT_STARTED.render(lang), ""]
    if progress.step is None:
        return [NOW_DONE.render(lang), ""]
    index = status.index(progress.step)
    took = format_duration(progress.seconds(status.taken_at)) if progress.since else ""
    return [f"{index + 1}. {status.chapter.steps[index].title.render(lang)}",
            STUCK_CELL.bind(duration=took).render(lang) if progress.stuck else took]


def stuck_lines(status: ClassStatus, lang: str, render: Callable[[Message, str], str] = terminal) -> list[str]:
    """Each stuck learner with the message of the check that fails (for terminals by default: it quotes
    what the learner named)."""
    lines = []
    for ls in status.learners:
        progress = ls.progress
        if progress is not None and progress.stuck and progress.step is not None:
            message = progress.failure.message if progress.failure else ""
            step = status.chapter.step(progress.step).title
            lines.append(render(STUCK.bind(learner=ls.learner, step=step, message=message,
                                           duration=format_duration(progress.seconds(status.taken_at))), lang))
    return lines


# -- on a cluster: which member holds each learner's instance ------------------
HEAD_MEMBER = M("class.status.member", "Member")
MEMBER_NOT_ANSWERING = M("class.status.member_not_answering", "{member} (not answering)")
MEMBERS_DOWN = M("class.status.members_down",
                 "Cluster members that do not answer: {members}. Their learners are shown as not verified; "
                 "nothing recorded about them is lost.")


def member_head(status: ClassStatus, lang: str) -> list[str]:
    """A “Member” column, only when the class runs on a cluster."""
    return [HEAD_MEMBER.render(lang)] if status.members else []


def member_cell(status: ClassStatus, learner: str, lang: str) -> list[str]:
    if not status.members:
        return []
    member = status.members.get(learner, "")
    return [MEMBER_NOT_ANSWERING.bind(member=member).render(lang) if member in status.down else member]


def members_down_line(status: ClassStatus, lang: str) -> list[str]:
    return [MEMBERS_DOWN.bind(members=", ".join(sorted(status.down))).render(lang)] if status.down else []


def common_lines(status: ClassStatus, lang: str) -> list[tuple[str, str | None]]:
    """Per step, the most shared failure and its hint, for the instructor to address the room."""
    lines = []
    for step in status.chapter.step_ids:
        found = status.most_common(step)
        if found is not None:
            result, count = found
            # For terminals only: a learner's snapshot or file name is shown, never obeyed.
            common = COMMON.bind(step=status.chapter.step(step).title, count=count, total=len(status.learners),
                                 message=result.message)
            text = terminal(common, lang)
            hint = terminal(result.hint, lang) if result.hint else None
            lines.append((text, hint))
    return lines


def text_status(status: ClassStatus, lang: str) -> str:
    rows = status_rows(status, lang)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if not status.learners:
        lines.append(NO_LEARNER.render(lang))
    lines += ["", LEGEND.render(lang), *members_down_line(status, lang), *alert_lines(status, lang),
              *stuck_lines(status, lang)]
    lines += [f"⚠ {terminal(w, lang)}" for w in status.warnings]
    hint_label = HINT.render(lang)
    for text, hint in common_lines(status, lang):
        lines.append(f"• {text}")
        if hint:
            lines.append(f"    {hint_label}{colon(lang)}{hint}")
    return "\n".join(lines)


def rich_status(status: ClassStatus, lang: str) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    styles = {"✔": "bold green", "✘": "bold red", "?": "bold yellow", TODO: "dim", NOT_STARTED: "blue"}
    rows = status_rows(status, lang)
    # Text, not strings: rich would read “[…]” in a cell as markup.
    table = Table(title=Text(f"{status.info.name} — {status.taken_at:%H:%M:%S}"), header_style="bold")
    for head in rows[0]:
        table.add_column(Text(head))
    for row in rows[1:]:
        table.add_row(Text(row[0]), *(Text(c, style=styles.get(c, "")) for c in row[1:-3]), *map(Text, row[-3:]))
    parts: list[Any] = [table, Text(LEGEND.render(lang), style="dim"),
                        *(Text(line, style="bold red") for line in members_down_line(status, lang))]
    parts += [Text(line, style="bold yellow") for line in alert_lines(status, lang) + stuck_lines(status, lang)]
    parts += [Text(f"⚠ {terminal(w, lang)}", style="bold yellow") for w in status.warnings]
    for text, hint in common_lines(status, lang):
        parts.append(Text("• " + text))
        if hint:
            parts.append(Text(f"    {HINT.render(lang)}{colon(lang)}{hint}", style="cyan"))
    return Group(*parts)


def status_json(status: ClassStatus, lang: str) -> dict[str, Any]:
    summary = []
    for step in status.chapter.step_ids:
        counts = Counter(ls.results[status.index(step)].status.value for ls in status.learners)
        found = status.most_common(step)
        summary.append({"id": step, "title": status.chapter.step(step).title.render(lang),
                        **{s.value: counts.get(s.value, 0) for s in Status},
                        "not_started": status.counts(step).get(NOT_STARTED, 0),
                        "most_common": None if found is None else {
                            "diagnosis": found[0].diagnosis, "count": found[1],
                            "message": found[0].message.render(lang),
                            "hint": found[0].hint.render(lang) if found[0].hint else None}})
    return {"class": status.info.name, "lab": status.chapter.id, "container": status.info.container,
            "snapshot": status.snapshot, "lang": lang, "taken_at": status.taken_at.isoformat(),
            "steps": list(status.chapter.step_ids),
            "step_titles": [s.title.render(lang) for s in status.chapter.steps],
            "stuck_after_seconds": round(status.stuck_after.total_seconds()),
            "members_down": sorted(status.down),
            "learners": [{"learner": ls.learner, "project": ls.project, "member": status.members.get(ls.learner),
                          "score": {"earned": ls.score.earned, "possible": ls.score.possible},
                          "steps": [r.to_json(lang) | {"diagnosis": r.diagnosis, "shown": SHOWN[shown]}
                                    for r, shown in zip(ls.results, ls.shown())],
                          "alert": _alert_json(ls.results, lang), "not_started": ls.not_started,
                          **_progress_json(status, ls, lang)}
                         for ls in status.learners],
            "summary": summary, "warnings": [w.render(lang) for w in status.warnings]}


def _progress_json(status: ClassStatus, ls: LearnerStatus, lang: str) -> dict[str, Any]:
    """Where the learner is: the step, since when and for how long, stuck or not, and the message of
    the check that fails there (bounded; JSON escapes it, the page shows it as text)."""
    progress = ls.progress
    if progress is None or progress.step is None:
        return {"current": None, "last_failure": None}
    step = status.chapter.step(progress.step)
    current = {"step": step.id, "title": step.title.render(lang),
               "since": progress.since.isoformat() if progress.since else None,
               "seconds": progress.seconds(status.taken_at), "stuck": progress.stuck}
    failure = None if progress.failure is None else {
        "step": step.id, "title": current["title"], "diagnosis": progress.failure.diagnosis,
        "message": bounded(progress.failure.message.render(lang))}
    return {"current": current, "last_failure": failure}


def _alert_json(results: list[Result], lang: str) -> dict[str, str] | None:
    found = next((r for r in results if r.diagnosis in ALERTS), None)
    return None if found is None else {"diagnosis": found.diagnosis, "message": found.message.render(lang)}


def words(lang: str) -> dict[str, str]:
    """The word for each displayed symbol, for reports."""
    return {SYMBOLS[s]: WORDS[s].render(lang) for s in Status} | {
        TODO: M("class.status.todo", "not reached").render(lang), NOT_STARTED: NOW_NOT_STARTED.render(lang)}
