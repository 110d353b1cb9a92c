"""`labkit lab`: a thin wrapper over notebooks/server.run_lab (what `make lab` runs after `labkit setup`).

Registered in cli/main.py with `main.add_command(lab_command)`; --lang, --container and the default
--lab come from the parent command.
"""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from ..grading.contract import INSTANCE_PARAM
from ..i18n import M, Message
from ..labs import CHAPTERS, chapter_named
from .errors import handles_errors
from .localized import Command, option
from .signals import interrupt_on


@click.command("lab", cls=Command, help=M("cli.help.lab", "Open a lab's notebook in JupyterLab, in your "
                                                          "language, and print its URL."))
@option("--lab", "lab", type=click.Choice(list(CHAPTERS)), default=None,
        help=M("cli.help.lab.lab", "Whose notebook to open (default: the one given to "
                                   "“labkit --lab”, else the first lab)."))
@option("--listen", default=None, metavar=M("cli.metavar.address_port", "ADDR:PORT"),
        help=M("cli.help.lab.listen", "Where JupyterLab listens (default: 127.0.0.1:8888, or the next free port)."))
@option("--no-browser", is_flag=True, help=M("cli.help.lab.no_browser", "Do not open a browser, only print the URL."))
@option("--root", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
        help=M("cli.help.lab.root", "Repository root (where notebooks/ is)."))
@click.pass_obj
@handles_errors
def lab_command(opts: object, lab: str | None, listen: str | None, no_browser: bool, root: Path) -> None:
    from ..notebooks.server import DEFAULT_LISTEN, require_jupyterlab, run_lab

    lang = getattr(opts, "lang")
    chapter = chapter_named(lab or getattr(opts, "lab"))

    def say(message: Message, err: bool) -> None:
        click.echo(message.render(lang), err=err)

    require_jupyterlab()  # before this process's signals change: a missing JupyterLab is one line
    # A polite kill, or the terminal closing, stops JupyterLab like Ctrl+C (its kernels included).
    interrupt_on(signal.SIGTERM, signal.SIGHUP)
    container = getattr(opts, "container", None) or chapter.defaults[INSTANCE_PARAM]
    code = run_lab(root=root / "notebooks", lang=lang, notebook=chapter.notebook, listen_text=listen or DEFAULT_LISTEN,
                   open_browser=not no_browser, container=container, say=say)
    sys.exit(code)
