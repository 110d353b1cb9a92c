"""Chapters of the lab.  Each module is content: steps, points, checks and hints."""
from __future__ import annotations

from ..engine import Chapter
from . import snapshot_server, snapshots

CHAPTERS: dict[str, Chapter] = {chapter.id: chapter for chapter in (snapshots.CHAPTER, snapshot_server.CHAPTER)}
