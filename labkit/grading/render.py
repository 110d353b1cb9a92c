"""Showing results: plain text for pipes, rich for terminals, HTML for notebooks.

Every verdict is carried by a symbol and a word as well as a colour, so it reads in
any theme and for colour-blind learners.  The HTML is plain markup with inline
styles: JupyterLab's sanitiser keeps it in untrusted notebooks.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..i18n import M, Message
from ..terminal import terminal
from .engine import Result, Score, Status


def _escape(text: str) -> str:
    # html (and its table of entities) is imported only for the notebook's HTML, not at every check.
    from html import escape

    return escape(text)


SYMBOLS = {Status.PASSED: "✔", Status.FAILED: "✘", Status.NOT_VERIFIED: "?"}
WORDS = {
    Status.PASSED: M("render.passed", "passed"),
    Status.FAILED: M("render.failed", "failed"),
    Status.NOT_VERIFIED: M("render.not_verified", "not verified"),
}
# (border and verdict colour, card background): light cards that read on light and dark themes.
HTML_COLOURS = {Status.PASSED: ("#116329", "#e6f4ea"), Status.FAILED: ("#a40e26", "#ffebe9"),
                Status.NOT_VERIFIED: ("#7d4e00", "#fff8c5")}
# Terminal badges: white on the same dark colours as the notebook's verdicts, so they
# read on light and dark terminals alike, whatever their palette.
RICH_STYLES = {status: f"bold #ffffff on {fg}" for status, (fg, _) in HTML_COLOURS.items()}
# A step that failed only because an earlier one is not done yet (diagnosis "order:…"), once
# the first step not done is shown in full: one line, as the class view shows it.
TODO_SYMBOL = "·"
TODO = M("render.todo", "to do")
TODO_STYLE = "bold #ffffff on #57606a"
HINT = M("render.hint", "Hint")
SCORE = M("render.score", "Score: {earned}/{possible}")


def colon(lang: str) -> str:
    """French puts a no-break space before a colon."""
    return "\u00a0: " if lang == "fr" else ": "


def verdict(status: Status, lang: str) -> str:
    return f"{SYMBOLS[status]} {WORDS[status].render(lang)}"


def report_json(results: list[Result], score: Score, *, lab: str, container: str, snapshot: str,
                lang: str) -> dict[str, Any]:
    return {"lab": lab, "container": container, "snapshot": snapshot, "lang": lang,
            "score": {"earned": score.earned, "possible": score.possible},
            "steps": [r.to_json(lang) for r in results]}


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def waits_on_earlier(result: Result) -> bool:
    """Failed only because an earlier step is not done (the chapters' "order:" diagnoses)."""
    return result.status is Status.FAILED and (result.diagnosis or "").startswith("order:")


def folded(results: list[Result]) -> set[str]:
    """Steps shown on one line: those that only wait on an earlier step, after the first step
    not passed (shown in full, with its hint: the next thing to do)."""
    steps, first_seen = set(), False
    for r in results:
        if r.passed:
            continue
        if first_seen and waits_on_earlier(r):
            steps.add(r.step)
        first_seen = True
    return steps


def todo_verdict(lang: str) -> str:
    return f"{TODO_SYMBOL} {TODO.render(lang)}"


def text_report(results: list[Result], score: Score, titles: dict[str, Message], lang: str,
                verbose: bool = False) -> str:
    short = set() if verbose else folded(results)
    lines = []
    for r in results:
        if r.step in short:
            lines.append(f"{todo_verdict(lang)}  {r.step} — {titles[r.step].render(lang)} ({r.points}/{r.possible})")
            continue
        lines.append(f"{verdict(r.status, lang)}  {r.step} — {titles[r.step].render(lang)} ({r.points}/{r.possible})")
        lines.append(f"    {terminal(r.message, lang)}")
        for e in r.evidence:
            lines.append(f"    · {terminal(e, lang)}")
        if r.hint:
            lines.append(f"    {HINT.render(lang)}{colon(lang)}{terminal(r.hint, lang)}")
    lines.append(SCORE.bind(earned=score.earned, possible=score.possible).render(lang))
    return "\n".join(lines)


def rich_report(console: Any, results: list[Result], score: Score, titles: dict[str, Message], lang: str,
                verbose: bool = False) -> None:
    """The report on a terminal: a verdict badge (symbol, word and colour) per step, then
    the message, evidence and hint, wrapped under a four-space indent."""
    from rich.text import Text

    def paragraph(*parts: tuple[str, str]) -> None:
        for line in wrap(Text.assemble(*parts), max(20, console.width - 4)):
            console.print(Text("    ") + line, no_wrap=True, overflow="ignore", crop=False)

    short = set() if verbose else folded(results)
    for r in results:
        if r.step in short:
            console.print(Text.assemble((f" {todo_verdict(lang)} ", TODO_STYLE),
                                        f" {titles[r.step].render(lang)} ({r.step}, {r.points}/{r.possible})"))
            continue
        console.print(Text.assemble((f" {verdict(r.status, lang)} ", RICH_STYLES[r.status]),
                                    (f" {titles[r.step].render(lang)}", "bold"),
                                    f" ({r.step}, {r.points}/{r.possible})"))
        paragraph((terminal(r.message, lang), ""))
        for e in r.evidence:
            paragraph((f"· {terminal(e, lang)}", "italic"))
        if r.hint:
            paragraph((f"{HINT.render(lang)}{colon(lang)}", "bold"), (terminal(r.hint, lang), ""))
    console.print(Text(SCORE.bind(earned=score.earned, possible=score.possible).render(lang), style="bold"))


def wrap(text: Any, width: int) -> list[Any]:
    """Break a rich Text at plain spaces only, never inside a quoted command that fits on
    a line: French typography's no-break spaces (« incus », « Indice : ») keep their words
    together, which rich's own wrapping does not."""
    from rich.cells import cell_len

    plain, offsets, start, space = text.plain, [], 0, -1
    kept = {i for m in COMMAND.finditer(plain) if m.lastindex in (1, 2) and cell_len(m.group(0)) <= width
            for i in range(m.start(), m.end())}
    for i, char in enumerate(plain):
        if char == " " and i not in kept:
            space = i
        if cell_len(plain[start:i + 1]) > width and space > start:
            offsets.append(space + 1)
            start = space + 1
    lines = list(text.divide(offsets))
    for line in lines:
        line.rstrip()
    return lines


# -- HTML (notebooks) ---------------------------------------------------------------
# Every box is a self-contained card: its own background, its own text colours, inline
# styles only (no CSS variables, no <style>, no script), so it survives JupyterLab's
# sanitiser in an untrusted notebook and reads the same on light and dark themes.
# Each colour pair below has a contrast ratio of at least 4.5:1 (WCAG AA).
INK = "#1f2328"      # body text on every card background
MUTED = "#4b535d"    # evidence lines
CARD = ("color:#1f2328;padding:8px 12px;margin:6px 0;border-radius:4px;line-height:1.45;"
        "text-align:left;overflow-wrap:break-word;max-width:60em")
CODE = ("font-family:monospace;font-size:0.95em;color:#1f2328;background:#ffffff;border:1px solid #d0d7de;"
        "border-radius:3px;padding:0 3px;white-space:nowrap")
HINT_COLOURS = ("#0550ae", "#ddf4ff")
# A command quoted in a message (“incus …” or « incus … », whose no-break spaces may be
# U+00A0 or the narrow U+202F), or the `incus` command that ends a solution after its colon
# (“Run: incus stop ubuntu-test”).
COMMAND = re.compile(r"“((?:incus|labkit|touch|rm) [^”]+)”"
                     r"|«[\u00a0\u202f]((?:incus|labkit|touch|rm) [^»]+?)[\u00a0\u202f]»"
                     r"|(?<=: )(incus [^()]+?)(?=\s*(?:\(|$))")


def html_text(text: str) -> str:
    """Escape a rendered message; commands in it become <code>, the rest stays as written."""
    out, pos = [], 0
    for match in COMMAND.finditer(text):
        command = next(g for g in match.groups() if g)
        out.append(_escape(text[pos:match.start()]))
        out.append(f'<code style="{CODE}">{_escape(command)}</code>')
        pos = match.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def html_card(kind: str, colour: tuple[str, str], body: str) -> str:
    fg, bg = colour
    return (f'<div class="{kind}" style="border:1px solid {fg};border-left:6px solid {fg};background:{bg};{CARD}">'
            f'{body}</div>')


def html_result(result: Result, title: Message, lang: str, progress: tuple[int, int]) -> str:
    fg, _ = HTML_COLOURS[result.status]
    esc = _escape
    parts = [
        f'<div style="font-weight:bold;color:{fg};font-size:1.05em">{esc(verdict(result.status, lang))}'
        f'<span style="color:{INK}"> — {esc(title.render(lang))}</span>'
        f' <span style="font-weight:normal;color:{INK};white-space:nowrap">'
        f'({result.points}/{result.possible})</span></div>',
        f'<div>{html_text(result.message.render(lang))}</div>',
    ]
    for e in result.evidence:
        parts.append(f'<div style="color:{MUTED};font-size:0.9em">· {html_text(e.render(lang))}</div>')
    if result.hint:
        parts.append(f'<div style="margin-top:4px"><b>{esc(HINT.render(lang))}{colon(lang)}</b>'
                     f'{html_text(result.hint.render(lang))}</div>')
    done, total = progress
    pct = int(100 * done / total) if total else 0
    parts.append(f'<div style="margin-top:6px;font-size:0.85em;color:{INK};white-space:nowrap" title="{done}/{total}">'
                 f'<div style="display:inline-block;vertical-align:middle;width:16em;max-width:60%;height:8px;'
                 f'background:#ffffff;border:1px solid #8c959f;border-radius:4px">'
                 f'<div class="labkit-progress-bar" '
                 f'style="background:#116329;width:{pct}%;height:8px;border-radius:3px"></div></div>'
                 f' <span class="labkit-progress" style="vertical-align:middle">{done}/{total}</span></div>')
    return html_card(f"labkit-result labkit-{result.status.value}", HTML_COLOURS[result.status], "".join(parts))


def html_hint(label: str, text: str, lang: str) -> str:
    """A hint or a solution asked with `lab.hint(step)`."""
    return html_card("labkit-hint", HINT_COLOURS,
                     f'<b style="color:{HINT_COLOURS[0]}">➜ {_escape(label)}{colon(lang)}</b>{html_text(text)}')


def html_error(text: str) -> str:
    """The environment is unusable (Incus unreachable, no access, no such instance)."""
    fg, bg = HTML_COLOURS[Status.FAILED]
    return html_card("labkit-error", (fg, bg), f'<b style="color:{fg}">✘</b> {html_text(text)}')


def html_warning(text: str) -> str:
    fg, bg = HTML_COLOURS[Status.NOT_VERIFIED]
    return html_card("labkit-warning", (fg, bg), f'<b style="color:{fg}">⚠</b> {html_text(text)}')


def html_summary(results: list[Result], score: Score, titles: dict[str, Message], lang: str) -> str:
    esc = _escape
    cell = f"padding:3px 10px;border:none;color:{INK};background:transparent"
    rows = "".join(
        f'<tr style="background:transparent">'
        f'<td style="{cell};text-align:left">{esc(titles[r.step].render(lang))}</td>'
        f'<td style="{cell};text-align:left;color:{HTML_COLOURS[r.status][0]};font-weight:bold;white-space:nowrap">'
        f'{esc(verdict(r.status, lang))}</td>'
        f'<td style="{cell};text-align:right;white-space:nowrap">{r.points}/{r.possible}</td></tr>' for r in results)
    total = esc(SCORE.bind(earned=score.earned, possible=score.possible).render(lang))
    return (f'<div class="labkit-summary" '
            f'style="border:1px solid #8c959f;background:#f6f8fa;{CARD};display:inline-block">'
            f'<table style="border-collapse:collapse;margin:0;color:{INK};background:transparent;font-size:1em">'
            f'{rows}</table>'
            f'<div style="font-weight:bold;margin-top:4px;padding:0 10px">{total}</div></div>')
