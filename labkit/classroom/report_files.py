"""The files of `labkit class report`: a self-contained HTML page and a CSV for the LMS.

Both render the same graded results as `labkit class status` (report.py), plus the
instructor's journals for the time each step took.  The HTML has no external asset and no
script; every verdict is a symbol and a word as well as a colour.  Columns are headed by the
steps' titles in the class language, the CSV's too (its cells are the verdicts' words); the
CSV uses “;” in French (what French spreadsheets expect).
"""
from __future__ import annotations

import csv
import html
import io
from collections import Counter
from datetime import datetime
from typing import Any

from ..grading.engine import Result, Status
from ..grading.journal import Journal
from ..grading.progress import format_duration
from ..grading.render import HINT, HTML_COLOURS, colon
from ..i18n import M, Message
from .progress import NOT_STARTED
from .report import alert_lines, member_cell, member_head, words
from .status import NOT_MISTAKES, TODO, ClassStatus, display

COLOURS = {SYMBOL: HTML_COLOURS[status] for status, SYMBOL in (
    (Status.PASSED, "✔"), (Status.FAILED, "✘"), (Status.NOT_VERIFIED, "?"))} | {TODO: ("#57606a", "#f6f8fa"),
                                                                            NOT_STARTED: ("#0550ae", "#f6f8fa")}
CLASSES = {"✔": "passed", "✘": "failed", "?": "not-verified", TODO: "todo", NOT_STARTED: "not-started"}


def step_times(status: ClassStatus, journals: dict[str, Journal]) -> dict[str, dict[str, int | None]]:
    """Per learner and step, seconds from the previous step's first pass to this one's (as the instructor saw them)."""
    times: dict[str, dict[str, int | None]] = {}
    for ls in status.learners:
        journal = journals.get(ls.learner)
        first = journal.attempt_view().first_pass if journal else {}
        row: dict[str, int | None] = {}
        previous: datetime | None = None
        for step in status.chapter.step_ids:
            when = first.get(step)
            row[step] = round((when - previous).total_seconds()) if when and previous else None
            previous = when or previous
        stamps = list(first.values())
        row["total"] = round((max(stamps) - min(stamps)).total_seconds()) if len(stamps) > 1 else None
        times[ls.learner] = row
    return times


def mistakes(status: ClassStatus) -> list[tuple[str, Result, int]]:
    """(step, an example result, how many learners) for every failure shared now, most common first."""
    found: list[tuple[str, Result, int]] = []
    for step in status.chapter.step_ids:
        failing = [r for r in (ls.results[status.index(step)] for ls in status.learners if not ls.not_started)
                   if not r.passed and display(r) != TODO and r.diagnosis not in NOT_MISTAKES]
        for diagnosis, count in Counter(r.diagnosis for r in failing).items():
            found.append((step, next(r for r in failing if r.diagnosis == diagnosis), count))
    return sorted(found, key=lambda item: -item[2])


HEADERS = {"learner": M("class.report.learner", "Learner"), "project": M("class.report.project", "Project"),
           "score": M("class.report.score", "Score"), "possible": M("class.report.possible", "Out of"),
           "percent": M("class.report.percent", "Percent"), "total": M("class.report.total_time", "Total time (s)"),
           "seconds": M("class.report.seconds", "{step} (s)")}


def report_csv(status: ClassStatus, journals: dict[str, Journal], lang: str) -> str:
    times, names = step_times(status, journals), words(lang)
    titles = [s.title.render(lang) for s in status.chapter.steps]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if lang == "fr" else ",", lineterminator="\n")
    writer.writerow([HEADERS[k].render(lang) for k in ("learner", "project")] + member_head(status, lang)
                    + [HEADERS[k].render(lang) for k in ("score", "possible", "percent")] + titles
                    + [HEADERS["seconds"].bind(step=t).render(lang) for t in titles] + [HEADERS["total"].render(lang)])
    for ls in status.learners:
        percent = round(100 * ls.score.earned / ls.score.possible) if ls.score.possible else 0
        row = times[ls.learner]
        writer.writerow([ls.learner, ls.project, *member_cell(status, ls.learner, lang),
                         ls.score.earned, ls.score.possible, percent]
                        + [names[shown] for shown in ls.shown()]
                        + ["" if row[s] is None else row[s] for s in status.chapter.step_ids]
                        + ["" if row["total"] is None else row["total"]])
    return out.getvalue()


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:24px;line-height:1.4}
h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.2em;margin-top:28px}.meta{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse;font-size:.9em}\
th,td{border:1px solid #d0d7de;padding:5px 6px;text-align:center;vertical-align:top}
thead th{background:#f6f8fa;font-size:.85em;max-width:9em}tbody th{text-align:left;white-space:nowrap}
td.cell{font-weight:600;white-space:nowrap}td.cell small{display:block;font-weight:400;color:#1f2328;opacity:.8}
.sym{font-size:1.15em;margin-right:3px}.score{font-weight:700;white-space:nowrap}\
tfoot td,tfoot th{background:#f6f8fa;font-size:.85em}
.legend{margin-top:10px;font-size:.9em}\
.legend span{display:inline-block;margin-right:14px;padding:2px 6px;border-radius:3px}
ol li{margin-bottom:10px}.hint{color:#0b4f8a}.alert{color:#8a4b00;background:#fff8c5;padding:4px 8px}
.warning{color:#7d4e00;background:#fff8c5;padding:4px 8px}
@media print{body{margin:8mm}}
"""


def report_html(status: ClassStatus, journals: dict[str, Journal], lang: str) -> str:
    esc, times, names = html.escape, step_times(status, journals), words(lang)
    title = M("class.report.title", "Class “{name}” — {chapter}", name=status.info.name,
              chapter=status.chapter.title).render(lang)
    average = sum(ls.score.earned for ls in status.learners) / len(status.learners) if status.learners else 0
    possible = sum(s.points for s in status.chapter.steps)
    shown_average = f"{average:.1f}".replace(".", "," if lang == "fr" else ".")
    meta = M("class.report.meta", "Report of {time} UTC · learners: {count} · average score: {average}/{possible}",
             time=status.taken_at.strftime("%Y-%m-%d %H:%M"), count=len(status.learners),
             average=shown_average, possible=possible).render(lang)
    head = "".join(f"<th scope=\"col\">{i}. {esc(s.title.render(lang))}</th>"
                   for i, s in enumerate(status.chapter.steps, 1))
    body = []
    for ls in status.learners:
        cells = []
        for step, result, sym in zip(status.chapter.step_ids, ls.results, ls.shown()):
            fg, bg = COLOURS[sym]
            took = times[ls.learner][step]
            detail = f"<small>{esc(format_duration(took))}</small>" if took is not None else ""
            cells.append(f'<td class="cell {CLASSES[sym]}" style="color:{fg};background:{bg}" '
                         f'title="{esc(result.message.render(lang))}">'
                         f'<span class="sym" aria-hidden="true">{sym}</span>{esc(names[sym])}{detail}</td>')
        total = times[ls.learner]["total"]
        where = "".join(f"<td>{esc(cell)}</td>" for cell in member_cell(status, ls.learner, lang))
        body.append(f'<tr><th scope="row">{esc(ls.learner)}</th>{where}{"".join(cells)}'
                    f'<td class="score">{ls.score.earned}/{ls.score.possible}</td>'
                    f'<td>{esc(format_duration(total)) if total is not None else "—"}</td></tr>')
    passed_row = "".join(f"<td>{status.counts(step).get('✔', 0)}/{len(status.learners)}</td>"
                         for step in status.chapter.step_ids)
    legend = "".join(f'<span style="color:{COLOURS[sym][0]};background:{COLOURS[sym][1]}">'
                     f'{sym} {esc(names[sym])}</span>'
                     for sym in ("✔", "✘", "?", TODO, NOT_STARTED))
    found = mistakes(status)
    items = []
    for step, result, count in found[:10]:
        hint = (f'<div class="hint"><b>{esc(HINT.render(lang))}{colon(lang)}</b>'
                f'{esc(result.hint.render(lang))}</div>' if result.hint else "")
        learners = (M("class.report.one_learner", "1 learner") if count == 1
                    else M("class.report.learners", "{count} learners", count=count)).render(lang)
        items.append(f"<li><b>{esc(status.chapter.step(step).title.render(lang))}</b> — {esc(learners)}{colon(lang)}"
                     f"{esc(result.message.render(lang))}{hint}</li>")
    none = M("class.report.no_mistakes", "No failure right now.").render(lang)
    member_th = "".join(f'<th scope="col">{esc(cell)}</th>' for cell in member_head(status, lang))
    member_td = "<td></td>" if status.members else ""
    labels = {"passed_row": M("class.report.passed_row", "Passed").render(lang),
              "total_head": M("class.report.total_head", "Total time").render(lang),
              "mistakes": M("class.report.mistakes", "Most common mistakes").render(lang)}
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{esc(title)}</title><style>{STYLE}</style></head>
<body><h1>{esc(title)}</h1><p class="meta">{esc(meta)}</p>
{"".join(f'<p class="warning">⚠ {esc(w.render(lang))}</p>' for w in status.warnings)}
<table><thead><tr><th scope="col">{esc(HEADERS['learner'].render(lang))}</th>{member_th}{head}\
<th scope="col">{esc(HEADERS['score'].render(lang))}</th><th scope="col">{esc(labels['total_head'])}</th></tr></thead>
<tbody>{"".join(body)}</tbody>
<tfoot><tr><th scope="row">{esc(labels['passed_row'])}</th>{member_td}{passed_row}\
<td></td><td></td></tr></tfoot></table>
<p class="legend">{legend}</p>
{"".join(f'<p class="alert">{esc(line)}</p>' for line in alert_lines(status, lang, Message.render))}
<h2>{esc(labels['mistakes'])}</h2>
{"<ol>" + "".join(items) + "</ol>" if items else f"<p>{esc(none)}</p>"}
</body></html>
"""


def report(status: ClassStatus, journals: dict[str, Journal], lang: str) -> dict[str, Any]:
    """Both renderings at once (the CLI writes whichever files were asked for)."""
    return {"html": report_html(status, journals, lang), "csv": report_csv(status, journals, lang)}
