"""The notebook API: `lab = Lab(); lab.check("snapshot"); lab.hint("snapshot"); lab.summary()`.

A `Lab` records the baseline at once and listens to lifecycle events in the
background, so steps whose evidence vanishes (the stop before a restore) are seen
as they happen.  Without the listener the checks still work.
"""
from __future__ import annotations

import atexit
import subprocess
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..app.session import Report, Session
from ..errors import LabkitError, UsageError
from ..grading import render
from ..grading.engine import Result, Score, Status
from ..i18n import M, Message, normalise_language
from ..labs import DEFAULT_LAB
from ..terminal import terminal


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


@dataclass(frozen=True)
class Shown:
    """A value with an HTML face for Jupyter and a text face elsewhere.

    Returned by the notebook API instead of being printed, so a check cell shows one
    box (not the box plus the raw repr), and `lab.check("snapshot").passed` still works.
    """

    value: Any
    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __getattr__(self, name: str) -> Any:
        return getattr(self.value, name)


def _display(shown: Shown) -> None:
    """Show at once: used where no value can be returned (a failed constructor)."""
    if _in_notebook():
        from IPython.display import display

        display(shown)
    else:
        print(shown.text)


def _command_failed(lang: str) -> Callable[..., Any]:
    """A failed %%bash cell: one clear box instead of a traceback that repeats the
    cell's (French) comment as escaped bytes.  The cell still fails, so "Run All" and
    papermill stop there; other errors keep their usual traceback."""
    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
        from_bash = any(frame.filename.replace("\\", "/").endswith("magics/script.py")
                        for frame in traceback.extract_tb(tb))
        if not from_bash:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
            return
        text = M("lab.command_failed", "The command failed (exit status {code}). Its error message is just above: "
                                       "correct the command and run the cell again.",
                 code=getattr(value, "returncode", "?")).render(lang)
        _display(Shown(value, render.html_error(text), f"✘ {text}"))
    return handler


_OPEN: dict[Path | None, "Lab"] = {}


class Lab:
    def __init__(self, container: str | None = None, snapshot: str | None = None, lang: str | None = None,
                 project: str | None = None, journal: str | Path | None = None, listen: bool = True,
                 lab: str = DEFAULT_LAB, **params: str):
        """`lab` names the chapter (labkit.labs.CHAPTERS); `params` are its other settings (for example
        remote="incus-snapshot"), over the chapter's defaults."""
        self.lang = normalise_language(lang)
        try:
            # Reads over the local socket without httpx (unix_http.py): a check cell costs less;
            # writes (solve, reset) still go through httpx, made on first use.
            self.session = Session(lab=lab, container=container, snapshot=snapshot, project=project,
                                   journal=Path(journal) if journal else None, params=params, lean_reads=True)
            self.session.journal.ensure_baseline(self.session.observe().instance)
        except LabkitError as exc:
            if getattr(self, "session", None) is not None:
                self.session.close()  # a setup cell run again must not leave a client behind each time
            _display(self._error_box(exc))
            raise
        self.listener = None
        self.warnings: list[Message] = []
        # Running the setup cell again must not leave the previous Lab listening too:
        # every event would be journaled twice.
        previous = _OPEN.pop(self.session.journal.path, None)
        if previous is not None:
            previous.close()
        _OPEN[self.session.journal.path] = self
        if listen:
            self._listen()
        if _in_notebook():
            from IPython import get_ipython

            get_ipython().set_custom_exc((subprocess.CalledProcessError,), _command_failed(self.lang))

    def _listen(self) -> None:
        from ..incus.events import Listener

        try:
            self.listener = Listener(self.session.endpoint, self.session.container,
                                     lambda entry: self.session.record_events([entry])).start()
            atexit.register(self.close)
        except LabkitError as exc:
            self.warnings.append(exc.message)

    # -- learner-facing ---------------------------------------------------
    def check(self, step: str) -> Shown:
        """Grade one step; an unusable environment gives an error box, not an exception,
        so that a notebook run top to bottom always completes."""
        try:
            report = self.session.check([step])
        except LabkitError as exc:
            return self._error_box(exc)
        return self._result_view(report.results[0], report)

    def hint(self, step: str) -> Shown:
        try:
            level, message = self.session.hint(step)
        except LabkitError as exc:  # an unknown step: say which ones exist
            return self._error_box(exc)
        label = (M("lab.hint.nudge", "Hint") if level == 1 else M("lab.hint.solution", "Solution")).render(self.lang)
        text = f"{label}{render.colon(self.lang)}{terminal(message, self.lang)}"
        return Shown(message, render.html_hint(label, message.render(self.lang), self.lang), text)

    def solve(self, step: str) -> None:
        """Run the step's solution commands (instructors' autosolve runs and tests).

        Each command must succeed: a failure raises, so papermill stops on it."""
        import shlex

        chosen = self.session.chapter.step(self.session.steps([step])[0])
        for template in chosen.commands:
            try:
                command = template.format(**self.session.params)
            except KeyError as missing:
                raise UsageError(M("lab.solve.missing", "The solution of “{step}” needs the setting “{name}”: "
                                                        "pass it to Lab(…, {name}=…).",
                                   step=step, name=missing.args[0])) from None
            print(f"$ {command}")
            args = shlex.split(command)
            if self.session.project != "default":
                args[1:1] = ["--project", self.session.project]
            done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            print(done.stdout + done.stderr, end="")
            done.check_returncode()

    def summary(self) -> Shown:
        try:
            report = self.session.check()
        except LabkitError as exc:
            return self._error_box(exc)
        titles = self._titles()
        return Shown(report.score, render.html_summary(report.results, report.score, titles, self.lang),
                     render.text_report(report.results, report.score, titles, self.lang))

    def results(self) -> Report:
        """Grade every step without showing anything (for scripts and tests)."""
        return self.session.check()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        atexit.unregister(self.close)
        _OPEN.pop(self.session.journal.path, None)
        self.session.close()

    # -- rendering --------------------------------------------------------
    def _titles(self) -> dict[str, Message]:
        return {s.id: s.title for s in self.session.chapter.steps}

    def _result_view(self, result: Result, report: Report) -> Shown:
        done = self._passed_count()
        total = len(self.session.chapter.steps)
        html_box = render.html_result(result, self._titles()[result.step], self.lang, (done, total))
        text = render.text_report([result], Score.of([result]), self._titles(), self.lang)
        for warning in report.warnings + self.warnings:
            html_box += render.html_warning(warning.render(self.lang))
            text += f"\n⚠ {terminal(warning, self.lang)}"
        self.warnings = []
        return Shown(result, html_box, text)

    def _passed_count(self) -> int:
        """Steps passed so far in this attempt, as the journal remembers them."""
        latest = self.session.journal.attempt_view().latest()
        return sum(1 for status in latest.values() if status is Status.PASSED)

    def _error_box(self, exc: LabkitError) -> Shown:
        return Shown(exc, render.html_error(exc.render(self.lang)), f"✘ {terminal(exc.message, self.lang)}")

    def __repr__(self) -> str:
        return (f"Lab(lab={self.session.chapter.id!r}, container={self.session.container!r}, "
                f"snapshot={self.session.snapshot!r}, lang={self.lang!r})")
