"""Translatable messages: a stable key, its English text, and parameters.

Messages are gettext entries whose context (msgctxt) is the stable key and whose
msgid is the English source, so translators work in Poedit or Weblate as usual and
`pybabel extract -k M:1c,2` finds every message in the code.  Formatting happens
once, at the edge, in the user's language.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

DOMAIN = "labkit"
LANGUAGES = ("en", "fr")
LOCALE_DIR = Path(__file__).with_name("locale")


@dataclass(frozen=True)
class Message:
    """A message to show in the user's language: its stable key, its English text, its parameters."""

    key: str
    english: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        return translate(self, lang)

    def bind(self, **params: Any) -> Message:
        """The same message with more parameters (chapter templates get their names late)."""
        return Message(self.key, self.english, {**params, **self.params})


@dataclass(frozen=True)
class Number:
    """A decimal parameter, written with the language's decimal mark: 56.7 in English, 56,7 in French."""

    value: float
    digits: int = 1

    def render(self, lang: str) -> str:
        text = f"{self.value:.{self.digits}f}"
        return text.replace(".", ",") if lang == "fr" else text


def M(key: str, english: str, /, **params: Any) -> Message:
    """Mark a message for extraction and bind its parameters."""
    return Message(key, english, params)


class _English:
    """The English catalogue: the source texts themselves (what gettext.NullTranslations gives,
    without importing gettext, and copy and weakref with it, for a check in English)."""

    @staticmethod
    def pgettext(context: str, message: str) -> str:
        return message


@lru_cache(maxsize=None)
def _catalogue(lang: str) -> Any:
    if lang == "en":
        return _English()
    import gettext

    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang], fallback=True)


def translate(message: Message, lang: str) -> str:
    text = _catalogue(lang).pgettext(message.key, message.english)
    params = {k: _render_param(v, lang) for k, v in message.params.items()}
    return text.format(**params) if params else text


def _render_param(value: Any, lang: str) -> Any:
    # A parameter may itself be a message (a reason inside a sentence), or a decimal number.
    if isinstance(value, Message):
        return translate(value, lang)
    return value.render(lang) if isinstance(value, Number) else value


def default_language(environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    """French when the locale says so, English otherwise (docs/architecture.md §4)."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def normalise_language(lang: str | None) -> str:
    if not lang:
        return default_language()
    lang = lang.lower()[:2]
    return lang if lang in LANGUAGES else "en"
