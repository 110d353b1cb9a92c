"""The chapters of the lab: each module is content (steps, points, checks, messages) plus the
chapter's one look at Incus and its reset.  A new chapter is one module here, one line in
CHAPTERS, and its notebook source in notebooks/source/."""
from __future__ import annotations

from ..grading.engine import Chapter
from . import snapshot_server, snapshots

CHAPTERS: dict[str, Chapter] = {chapter.id: chapter for chapter in (snapshots.CHAPTER, snapshot_server.CHAPTER)}
# What every command runs when no --lab is given (the first chapter, as before there were two).
DEFAULT_LAB = snapshots.CHAPTER.id


def chapter_named(lab: str) -> Chapter:
    try:
        return CHAPTERS[lab]
    except KeyError:
        from ..errors import UsageError
        from ..i18n import M
        raise UsageError(M("labs.unknown", "“{lab}” is not a lab of labkit. The labs are: {labs}.", lab=lab, labs=", ".join(CHAPTERS))) from None
