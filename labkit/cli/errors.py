"""How every `labkit` command ends on a LabkitError: one paragraph in the user's language, exit 2."""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import click

from ..errors import LabkitError, UsageError
from ..grading.render import colon
from ..i18n import M, Message
from ..terminal import terminal
from . import localized


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Render every LabkitError once, in the user's language, with exit code 2.

    The command's context object only needs a `lang` attribute."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opts = click.get_current_context().obj
        try:
            return func(*args, **kwargs)
        except LabkitError as exc:
            click.echo(render_error(exc, opts.lang), err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            sys.exit(130)
    return wrapper


def render_error(exc: LabkitError, lang: str) -> str:
    label = M("cli.error", "Error").render(lang)
    return f"{label}{colon(lang)}{terminal(exc.message, lang)}"


def confirm(question: Message, refusal: Message, lang: str) -> None:
    """Ask before destroying anything; with no terminal to ask on (CI, a pipe), refuse.

    Every destructive command offers --yes, which its refusal message names."""
    if not localized.stdin_is_terminal() or not localized.ask(question, lang):
        raise UsageError(refusal)
