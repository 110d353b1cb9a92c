"""The second chapter: a snapshot server, incus copy and --refresh, scheduled snapshots."""
from .steps import CHAPTER

__all__ = ["CHAPTER"]
