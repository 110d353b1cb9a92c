"""`labkit check`: grade, print, exit with the contract's code (docs/architecture.md §4).

Shared by the click command (cli/main.py) and the console script's fast path (entry.py),
so both print the same bytes.  Nothing here imports click, httpx or rich unless it
is needed: rich only for a terminal, click only to print an error.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from ..app.session import Session
from ..errors import LabkitError
from ..grading import render
from ..labs import DEFAULT_LAB


def run_check(*, lang: str, lab: str | None = None, container: str | None, snapshot: str | None, project: str | None,
              journal: Path | None, steps: tuple[str, ...], as_json: bool, verbose: bool) -> int:
    """Exit code: 0 every requested step passed, 1 one failed or is not verified, 2 unusable."""
    try:
        return _check(lang, lab, container, snapshot, project, journal, steps, as_json, verbose)
    except LabkitError as exc:
        from .errors import render_error

        echo(render_error(exc, lang), sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _check(lang: str, lab: str | None, container: str | None, snapshot: str | None, project: str | None,
           journal: Path | None, steps: tuple[str, ...], as_json: bool, verbose: bool) -> int:
    # lean_reads: GET and HEAD over the local socket without httpx (see incus/unix_http.py).
    session = Session(lab=lab or DEFAULT_LAB, container=container, snapshot=snapshot, project=project, journal=journal,
                      lean_reads=True)
    try:
        report = session.check(list(steps) or None)
    finally:
        session.close()
    for warning in report.warnings:
        echo(warning.render(lang), sys.stderr)
    titles = {s.id: s.title for s in session.chapter.steps}
    if as_json:
        echo(render.dumps(render.report_json(report.results, report.score, lab=session.chapter.id,
                                             container=session.container, snapshot=session.snapshot, lang=lang)))
    elif sys.stdout.isatty():
        from rich.console import Console

        render.rich_report(Console(), report.results, report.score, titles, lang, verbose=verbose)
    else:
        echo(render.text_report(report.results, report.score, titles, lang, verbose=verbose))
    return 0 if report.all_passed else 1


def echo(text: str, stream: TextIO | None = None) -> None:
    """What click.echo does for a str: the text, a newline, a flush."""
    out = sys.stdout if stream is None else stream
    out.write(text + "\n")
    out.flush()
