"""`labkit setup`'s phases as the user sees them: a spinner on a terminal, a line on a pipe, and
each phase's duration (app/setup.py runs them; this shows them)."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from ..i18n import Message, Number


@dataclass
class Phases:
    """Shows each phase with a spinner (terminal) or a line (pipe), and its duration."""

    lang: str
    rows: list[tuple[str, float, str]] = field(default_factory=list)

    @contextmanager
    def phase(self, title: Message) -> Iterator[list[Message]]:
        from rich.console import Console

        console = Console(stderr=True)
        notes: list[Message] = []
        start = time.monotonic()
        label = title.render(self.lang)
        if console.is_terminal:
            with console.status(label + "…"):
                yield notes
        else:
            print(f"… {label}", file=sys.stderr, flush=True)
            yield notes
        seconds = time.monotonic() - start
        detail = " ".join(n.render(self.lang) for n in notes)
        self.rows.append((label, seconds, detail))
        print(f"✔ {label} ({Number(seconds).render(self.lang)}\u00a0s){' — ' + detail if detail else ''}",
              file=sys.stderr, flush=True)

    def say(self, message: Message) -> None:
        print(message.render(self.lang), file=sys.stderr, flush=True)
