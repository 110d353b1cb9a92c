"""Text for terminals: what a learner named is shown, never obeyed.

Incus accepts ESC, BEL, tab and newline in snapshot names, and learners name the files
in their instance: printed raw, such a name colours the instructor's terminal, sets its
title or fakes lines of the class table.  Every message bound for a terminal is rendered
with its parameters made visible (control and format characters written as escapes,
`\\x1b`) and bounded in length.  Our own message texts are trusted and left as they are
(some hold line breaks on purpose).  HTML and JSON escape in their own way and keep the
value whole, so they use `Message.render`.
"""
from __future__ import annotations

import unicodedata
from typing import Any

from .i18n import Message, Number

LIMIT = 240  # characters of one parameter: a name, a list of names, a daemon's error
ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control (Cc), format (Cf: bidirectional overrides, zero-width characters), line and
# paragraph separators, lone surrogates. No-break spaces (French typography) stay.
HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def printable(text: str, limit: int | None = LIMIT) -> str:
    """`text` with every character a terminal could obey written out, cut to `limit` with “…”."""
    if not all(c.isprintable() or c in "\u00a0\u202f" for c in text):
        text = "".join(_visible(c) for c in text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    return text


def _visible(char: str) -> str:
    if unicodedata.category(char) not in HIDDEN:
        return char
    if char in ESCAPES:
        return ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe(message: Message) -> Message:
    """The same message, its parameters (and those of the messages inside it) made printable."""
    return Message(message.key, message.english, {k: _safe_value(v) for k, v in message.params.items()})


def _safe_value(value: Any) -> Any:
    if isinstance(value, Message):
        return safe(value)
    if isinstance(value, (bool, int, float, Number)):  # ours: formatted by the message itself
        return value
    return printable(str(value))


def terminal(message: Message, lang: str) -> str:
    """Render `message` for a terminal (plain or rich)."""
    return safe(message).render(lang)
