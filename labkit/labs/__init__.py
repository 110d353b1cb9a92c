"""Chapters of the lab.  Each module is content: steps, points, checks and hints."""
from __future__ import annotations

from ..grading.engine import Chapter
from . import snapshots

CHAPTERS: dict[str, Chapter] = {snapshots.CHAPTER.id: snapshots.CHAPTER}
