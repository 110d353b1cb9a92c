"""The chapters of the lab: each module is content (steps, points, checks, messages) plus the
chapter's one look at Incus and its reset.  A new chapter is one module here, one line in
CHAPTERS, and its notebook source in notebooks/source/."""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from importlib import import_module
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from ..grading.engine import Chapter


class _Chapters(MutableMapping[str, "Chapter"]):
    """Chapter id -> Chapter, each chapter's module imported when first asked for: a check of
    one chapter does not pay for importing the others.  (Tests may register chapters of their own.)"""

    def __init__(self, modules: dict[str, str]):
        self._entries: dict[str, Union[str, Chapter]] = dict(modules)

    def __getitem__(self, lab: str) -> Chapter:
        entry = self._entries[lab]
        if isinstance(entry, str):
            entry = self._entries[lab] = import_module(entry, __name__).CHAPTER
            assert entry.id == lab, (lab, entry.id)
        return entry

    def __setitem__(self, lab: str, chapter: Chapter) -> None:
        self._entries[lab] = chapter

    def __delitem__(self, lab: str) -> None:
        del self._entries[lab]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


CHAPTERS: MutableMapping[str, Chapter] = _Chapters({"snapshots": ".snapshots", "snapshot-server": ".snapshot_server"})
# What every command runs when no --lab is given (the first chapter).
DEFAULT_LAB = "snapshots"


def chapter_named(lab: str) -> Chapter:
    try:
        return CHAPTERS[lab]
    except KeyError:
        from ..errors import UsageError
        from ..i18n import M
        raise UsageError(M("labs.unknown", "“{lab}” is not a lab of labkit. The labs are: {labs}.",
                           lab=lab, labs=", ".join(CHAPTERS))) from None
