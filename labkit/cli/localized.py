"""labkit's command line in the user's language: help, usage, click's own words and yes/no prompts.

Help texts are messages (`help=M(...)`), rendered when click formats them, in the language of
the command line being run: the environment's, or `--lang`, an eager option read before
`--help`.  Click's own words ("Usage:", "Error: {message}", "Try … for help.") go through
gettext: click looks `_` and `ngettext` up in its modules' globals when it speaks, and those
two names are the hook a translation plugs into; here they answer from labkit's catalogue.
"""
from __future__ import annotations

import importlib
import sys
from contextvars import ContextVar
from typing import Any, Callable

import click

from ..grading.render import colon
from ..i18n import M, Message, default_language, normalise_language

LANGUAGE: ContextVar[str] = ContextVar("labkit_cli_language", default="en")


def language() -> str:
    return LANGUAGE.get()


def use_language(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback of the eager --lang option: from there on, help and errors are in that language."""
    if value:
        LANGUAGE.set(normalise_language(value))
    return value


def _text(value: Any) -> Any:
    return value.render(language()) if isinstance(value, Message) else value


def _rendered(name: str) -> property:
    """An attribute click reads as text that may hold a message: rendered in the language of the moment."""
    private = f"_{name}"
    return property(lambda self: _text(getattr(self, private)), lambda self, value: setattr(self, private, value))


class _Localized:
    """A parameter whose help and metavar may be messages."""

    help = _rendered("help")
    metavar = _rendered("metavar")


# What click prints for a value's type when no metavar is given.
TYPE_NAMES = {
    "TEXT": M("cli.metavar.text", "TEXT"),
    "INTEGER": M("cli.metavar.integer", "INTEGER"),
    "FLOAT": M("cli.metavar.float", "FLOAT"),
    "PATH": M("cli.metavar.path", "PATH"),
    "DIRECTORY": M("cli.metavar.directory", "DIRECTORY"),
    "FILE": M("cli.metavar.file", "FILE"),
}


class Option(_Localized, click.Option):
    def __init__(self, *args: Any, help: Any = None, metavar: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help, self.metavar = help, metavar

    def make_metavar(self, ctx: click.Context) -> str:
        text = super().make_metavar(ctx)
        name = text.removesuffix("...")
        return _text(TYPE_NAMES[name]) + text[len(name):] if name in TYPE_NAMES else text


class Argument(_Localized, click.Argument):
    def __init__(self, *args: Any, metavar: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help, self.metavar = None, metavar


OPTIONS_METAVAR = M("cli.usage.options", "[OPTIONS]")
COMMAND_METAVAR = M("cli.usage.command", "COMMAND [ARGS]...")


class Formatter(click.HelpFormatter):
    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}{colon(language()).rstrip()}\n")


class Context(click.Context):
    formatter_class = Formatter


class Command(click.Command):
    """A command whose help (and short help) may be a message."""

    context_class = Context
    help = _rendered("help")
    short_help = _rendered("short_help")

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [OPTIONS_METAVAR.render(language()) if piece == "[OPTIONS]" else piece for piece in pieces]

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        # click makes the help option once and keeps it (its callbacks are ordered by identity),
        # its text translated then: say it again in the language of this command line.
        found = super().get_help_option(ctx)
        if found is not None:
            found.help = click_text("Show this message and exit.")
        return found


class Group(Command, click.Group):
    command_class = Command
    group_class = type  # subgroups are of this class too

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [COMMAND_METAVAR.render(language()) if piece == "COMMAND [ARGS]..." else piece for piece in pieces]


class Root(Group):
    """The `labkit` group: each command line starts in the environment's language."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        if parent is None:
            LANGUAGE.set(default_language())
        return super().make_context(info_name, args, parent, **extra)


def option(*decls: str, **attrs: Any) -> Callable[[Any], Any]:
    return click.option(*decls, cls=Option, **attrs)


def argument(*decls: str, **attrs: Any) -> Callable[[Any], Any]:
    return click.argument(*decls, cls=Argument, **attrs)


# -- click's own words ----------------------------------------------------------------------
# Keyed by click's English; what click says that labkit's commands can meet.
CLICK_TEXTS = {message.english: message for message in (
    M("click.usage", "Usage:"),
    M("click.options", "Options"),
    M("click.commands", "Commands"),
    M("click.arguments", "Positional arguments"),
    M("click.help", "Show this message and exit."),
    M("click.error", "Error: {message}"),
    M("click.try_help", "Try '{command} {option}' for help."),
    M("click.no_command", "No such command {name!r}."),
    M("click.no_option", "No such option {name!r}."),
    M("click.missing_argument", "Missing argument"),
    M("click.missing_option", "Missing option"),
    M("click.missing_parameter", "Missing parameter"),
    M("click.missing_parameter_named", "Missing parameter: {param_name}"),
    M("click.missing_command", "Missing command."),
    M("click.invalid_value_for", "Invalid value for {param_hint}: {message}"),
    M("click.invalid_value", "Invalid value: {message}"),
    M("click.no_value", "Option {name!r} does not take a value."),
    M("click.aborted", "Aborted!"),
    M("click.default", "default: {default}"),
    M("click.required", "required"),
    M("click.not_a_number", "{value!r} is not a valid {number_type}."),
    M("click.range", "{value} is not in the range {range}."),
    M("click.path_missing", "{name} {filename!r} does not exist."),
    M("click.path_is_file", "{name} {filename!r} is a file."),
    M("click.path_is_directory", "{name} {filename!r} is a directory."),
    M("click.path", "path"),
    M("click.file", "file"),
    M("click.directory", "directory"),
    M("click.invalid_input", "Error: invalid input"),
)}
# ngettext's pairs, keyed by the singular: (one, several).
CLICK_PLURALS = {one.english: (one, several) for one, several in (
    (M("click.extra_argument", "Got unexpected extra argument ({args})"),
     M("click.extra_arguments", "Got unexpected extra arguments ({args})")),
    (M("click.needs_argument", "Option {name!r} requires an argument."),
     M("click.needs_arguments", "Option {name!r} requires {nargs} arguments.")),
    (M("click.not_choice", "{value!r} is not {choice}."), M("click.not_choices", "{value!r} is not one of {choices}.")),
    (M("click.did_you_mean", "Did you mean {possibility}?"),
     M("click.did_you_mean_one_of", "(Did you mean one of: {possibilities}?)")),
)}


def click_text(english: str) -> str:
    """click's `_`: its English in the language of this command line."""
    message = CLICK_TEXTS.get(english)
    return english if message is None else message.render(language())


def click_plural(one: str, several: str, count: int) -> str:
    """click's `ngettext`: French uses the singular for 0 and 1."""
    pair = CLICK_PLURALS.get(one)
    if pair is None:
        return one if count == 1 else several
    lang = language()
    return pair[0 if count == 1 or (lang == "fr" and count == 0) else 1].render(lang)


def _install() -> None:
    for name in ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types"):
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = click_text  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = click_plural  # type: ignore[attr-defined]


_install()


# -- yes or no ----------------------------------------------------------------------------
CHOICES = M("cli.confirm.choices", "[y/N]")
# The words that answer yes and no, comma-separated; English ones are understood in every language.
YES = M("cli.confirm.yes", "y, yes")
NO = M("cli.confirm.no", "n, no")


def _words(message: Message, lang: str) -> list[str]:
    return [word.strip().lower() for word in f"{message.render(lang)},{message.english}".split(",") if word.strip()]


def ask(question: Message, lang: str) -> bool:
    """A yes/no question, “no” by default (Enter), answered in the user's language or in English."""
    yes, no = _words(YES, lang), _words(NO, lang)
    text = f"{question.render(lang)} {CHOICES.render(lang)}{colon(lang)}"
    while True:
        answer = click.prompt(text, default="", show_default=False, prompt_suffix="", err=True).strip().lower()
        if answer in yes or answer in no or not answer:
            return answer in yes
        click.echo(M("cli.confirm.invalid", "Answer “{yes}” to go on, or “{no}” (or Enter) to stop.",
                     yes=yes[0], no=no[0]).render(lang), err=True)


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()
