"""Showing results: plain text for pipes, rich for terminals, HTML for notebooks.

Every verdict is carried by a symbol and a word as well as a colour, so it reads in
any theme and for colour-blind learners.  The HTML is plain markup with inline
styles: JupyterLab's sanitiser keeps it in untrusted notebooks.
"""
from __future__ import annotations

import html
import json
from typing import Any

from .engine import Result, Score, Status
from .i18n import M, Message

SYMBOLS = {Status.PASSED: "✔", Status.FAILED: "✘", Status.NOT_VERIFIED: "?"}
WORDS = {
    Status.PASSED: M("render.passed", "passed"),
    Status.FAILED: M("render.failed", "failed"),
    Status.NOT_VERIFIED: M("render.not_verified", "not verified"),
}
RICH_STYLES = {Status.PASSED: "bold green", Status.FAILED: "bold red", Status.NOT_VERIFIED: "bold yellow"}
# Colours chosen for contrast on both JupyterLab's light and dark themes.
HTML_COLOURS = {Status.PASSED: ("#1a7f37", "#e6f4ea"), Status.FAILED: ("#b42318", "#fdecea"), Status.NOT_VERIFIED: ("#8a5a00", "#fff4d6")}
HINT = M("render.hint", "Hint")
SCORE = M("render.score", "Score: {earned}/{possible}")


def colon(lang: str) -> str:
    """French puts a no-break space before a colon."""
    return "\u00a0: " if lang == "fr" else ": "


def verdict(status: Status, lang: str) -> str:
    return f"{SYMBOLS[status]} {WORDS[status].render(lang)}"


def report_json(results: list[Result], score: Score, *, lab: str, container: str, snapshot: str, lang: str) -> dict[str, Any]:
    return {"lab": lab, "container": container, "snapshot": snapshot, "lang": lang,
            "score": {"earned": score.earned, "possible": score.possible},
            "steps": [r.to_json(lang) for r in results]}


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def text_report(results: list[Result], score: Score, titles: dict[str, Message], lang: str) -> str:
    lines = []
    for r in results:
        lines.append(f"{verdict(r.status, lang)}  {r.step} — {titles[r.step].render(lang)} ({r.points}/{r.possible})")
        lines.append(f"    {r.message.render(lang)}")
        for e in r.evidence:
            lines.append(f"    · {e.render(lang)}")
        if r.hint:
            lines.append(f"    {HINT.render(lang)}{colon(lang)}{r.hint.render(lang)}")
    lines.append(SCORE.bind(earned=score.earned, possible=score.possible).render(lang))
    return "\n".join(lines)


def rich_report(console: Any, results: list[Result], score: Score, titles: dict[str, Message], lang: str) -> None:
    from rich.text import Text

    for r in results:
        line = Text()
        line.append(f"{verdict(r.status, lang)}", style=RICH_STYLES[r.status])
        line.append(f"  {titles[r.step].render(lang)} ", style="bold")
        line.append(f"({r.step}, {r.points}/{r.possible})", style="dim")
        console.print(line)
        console.print(Text("    " + r.message.render(lang)))
        for e in r.evidence:
            console.print(Text("    · " + e.render(lang), style="dim"))
        if r.hint:
            console.print(Text(f"    {HINT.render(lang)}{colon(lang)}", style="bold cyan") + Text(r.hint.render(lang)))
    console.print(Text(SCORE.bind(earned=score.earned, possible=score.possible).render(lang), style="bold"))


def html_result(result: Result, title: Message, lang: str, progress: tuple[int, int]) -> str:
    fg, bg = HTML_COLOURS[result.status]
    esc = html.escape
    parts = [
        f'<div class="labkit-result labkit-{result.status.value}" style="border:2px solid {fg};border-left:8px solid {fg};'
        f'background:{bg};color:#1f2328;padding:8px 12px;margin:6px 0;border-radius:4px;font-family:sans-serif;line-height:1.45">',
        f'<div style="font-weight:bold;color:{fg};font-size:1.05em">{esc(verdict(result.status, lang))} — {esc(title.render(lang))}'
        f' <span style="font-weight:normal;color:#1f2328">({result.points}/{result.possible})</span></div>',
        f'<div>{esc(result.message.render(lang))}</div>',
    ]
    for e in result.evidence:
        parts.append(f'<div style="color:#444;font-size:0.9em">· {esc(e.render(lang))}</div>')
    if result.hint:
        parts.append(f'<div style="margin-top:4px"><b>{esc(HINT.render(lang))}{colon(lang)}</b>{esc(result.hint.render(lang))}</div>')
    done, total = progress
    pct = int(100 * done / total) if total else 0
    parts.append(f'<div style="margin-top:6px;font-size:0.85em">{done}/{total}'
                 f'<div style="background:#d0d7de;height:8px;border-radius:4px;margin-top:2px">'
                 f'<div style="background:#1a7f37;width:{pct}%;height:8px;border-radius:4px"></div></div></div>')
    parts.append("</div>")
    return "".join(parts)


def html_summary(results: list[Result], score: Score, titles: dict[str, Message], lang: str) -> str:
    esc = html.escape
    rows = "".join(
        f'<tr><td style="padding:2px 8px">{esc(titles[r.step].render(lang))}</td>'
        f'<td style="padding:2px 8px;color:{HTML_COLOURS[r.status][0]};font-weight:bold">{esc(verdict(r.status, lang))}</td>'
        f'<td style="padding:2px 8px;text-align:right">{r.points}/{r.possible}</td></tr>' for r in results)
    total = esc(SCORE.bind(earned=score.earned, possible=score.possible).render(lang))
    return (f'<div class="labkit-summary" style="font-family:sans-serif"><table>{rows}</table>'
            f'<div style="font-weight:bold;margin-top:4px">{total}</div></div>')
