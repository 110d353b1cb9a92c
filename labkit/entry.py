"""The `labkit` console script: `labkit check …` without click, every other command through click.

Why: a learner runs `labkit check` after each step, and it should answer as fast as
the shell commands around it.  Importing click and building the command tree costs
more than the check's own requests (bench/checks.py).  This path accepts only the
plain form `labkit [--lang|--lab|--container|--snapshot|--project|--journal VALUE]… check
[STEP]… [--json] [--verbose]` and hands anything else (help, a typo, an unknown or
repeated option, an empty value) to the click CLI, so usage errors and help come from
one place; both paths run cli.check.run_check.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .i18n import normalise_language

GLOBAL_OPTIONS = ("--lang", "--lab", "--container", "--snapshot", "--project", "--journal")
CHECK_FLAGS = {"--json": "as_json", "--verbose": "verbose", "-v": "verbose"}


def main(args: list[str] | None = None, prog_name: str | None = None) -> None:
    argv = sys.argv[1:] if args is None else list(args)
    fast = parse_check(argv)
    if fast is None:
        from .cli.main import main as click_main

        click_main(args=argv, prog_name=prog_name)
        return
    from .cli.check import run_check

    sys.exit(run_check(**fast))


def parse_check(argv: list[str]) -> dict[str, Any] | None:
    """run_check's arguments for a plain `check` command line, or None to let click decide."""
    options: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        name, has_value, value = argv[i].partition("=")
        if not has_value:
            if i + 1 == len(argv):
                return None
            i += 1
            value = argv[i]
        if name not in GLOBAL_OPTIONS or name in options or not value or value.startswith("-"):
            return None
        options[name] = value
        i += 1
    if i == len(argv) or argv[i] != "check":
        return None
    steps, flags = [], {"as_json": False, "verbose": False}
    for arg in argv[i + 1:]:
        if arg in CHECK_FLAGS:
            flags[CHECK_FLAGS[arg]] = True
        elif not arg or arg.startswith("-"):
            return None
        else:
            steps.append(arg)
    if options.get("--lang", "en") not in ("fr", "en"):
        return None
    journal = options.get("--journal")
    return {"lang": normalise_language(options.get("--lang")), "lab": options.get("--lab"),
            "container": options.get("--container"), "snapshot": options.get("--snapshot"),
            "project": options.get("--project"),
            "journal": Path(journal) if journal else None, "steps": tuple(steps), **flags}
