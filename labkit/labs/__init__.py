"""The chapters of the lab: each is a package here (its steps, checks, texts, its one look at
Incus, its class view and its reset) exporting a `CHAPTER` that keeps the chapter contract
(grading/contract.py).  A new chapter is its folder, one line in CHAPTERS, and its notebook
source: docs/writing-a-chapter.md.

A chapter kept outside labkit (one being written, or the test chapter under tests/) is registered
with LABKIT_CHAPTERS="ID=MODULE[,ID=MODULE…]": each MODULE is imported, when its chapter is first
asked for, and must export a CHAPTER of that id."""
from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from importlib import import_module
from typing import TYPE_CHECKING, Union

from ..errors import UsageError
from ..i18n import M

if TYPE_CHECKING:
    from ..grading.engine import Chapter


class _Chapters(MutableMapping[str, "Chapter"]):
    """Chapter id -> Chapter, each chapter's module imported when first asked for: a check of
    one chapter does not pay for importing the others.  (Tests may register chapters of their own.)"""

    def __init__(self, modules: dict[str, str]):
        self._entries: dict[str, Union[str, Chapter]] = dict(modules)
        self._extra_seen = ""

    def _add_extra(self) -> None:
        """The chapters LABKIT_CHAPTERS registers, read again whenever it changes (one lookup otherwise)."""
        extra = os.environ.get(EXTRA_CHAPTERS, "")
        if extra == self._extra_seen:
            return
        self._extra_seen = extra
        for item in filter(None, (part.strip() for part in extra.split(","))):
            lab, _, module = item.partition("=")
            if lab and module and lab not in self._entries:
                self._entries[lab] = module

    def __getitem__(self, lab: str) -> Chapter:
        self._add_extra()
        entry = self._entries[lab]
        if isinstance(entry, str):
            entry = self._entries[lab] = import_module(entry, __name__).CHAPTER
            if entry.id != lab:
                raise UsageError(M("labs.wrong_id", "The module registered for the lab “{lab}” holds the chapter "
                                                    "“{other}”.", lab=lab, other=entry.id))
        return entry

    def __setitem__(self, lab: str, chapter: Chapter) -> None:
        self._entries[lab] = chapter

    def __delitem__(self, lab: str) -> None:
        del self._entries[lab]

    def __iter__(self) -> Iterator[str]:
        self._add_extra()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self._add_extra()
        return len(self._entries)


# Chapters kept outside labkit: "ID=MODULE[,ID=MODULE…]" (see above).
EXTRA_CHAPTERS = "LABKIT_CHAPTERS"
CHAPTERS: MutableMapping[str, Chapter] = _Chapters({"snapshots": ".snapshots", "snapshot-server": ".snapshot_server"})
# What every command runs when no --lab is given (the first chapter).
DEFAULT_LAB = "snapshots"


def chapter_named(lab: str) -> Chapter:
    try:
        return CHAPTERS[lab]
    except KeyError:
        raise UsageError(M("labs.unknown", "“{lab}” is not a lab of labkit. The labs are: {labs}.",
                           lab=lab, labs=", ".join(CHAPTERS))) from None
