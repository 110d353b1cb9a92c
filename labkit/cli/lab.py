"""`labkit lab`: a thin wrapper over lab_server.run_lab (what `make lab` runs after `labkit setup`).

Registered in cli.py with `main.add_command(lab_command)`; --lang and --container come
from the parent command.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import handles_errors
from ..i18n import Message


@click.command("lab")
@click.option("--listen", default=None, metavar="ADDR:PORT",
              help="Where JupyterLab listens (default: 127.0.0.1:8888, or the next free port).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser, only print the URL.")
@click.option("--root", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              help="Repository root (where notebooks/ is).")
@click.pass_obj
@handles_errors
def lab_command(opts: object, listen: str | None, no_browser: bool, root: Path) -> None:
    """Open the lab's notebook in JupyterLab, in your language, and print its URL."""
    from ..notebooks.server import DEFAULT_LISTEN, run_lab

    lang = getattr(opts, "lang")

    def say(message: Message, err: bool) -> None:
        click.echo(message.render(lang), err=err)

    code = run_lab(root=root / "notebooks", lang=lang, listen_text=listen or DEFAULT_LISTEN,
                   open_browser=not no_browser, container=getattr(opts, "container", None) or "ubuntu-test", say=say)
    sys.exit(code)
