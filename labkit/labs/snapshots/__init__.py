"""The first chapter: snapshot ubuntu-test, change it, restore it, check the change is gone."""
from .steps import CHAPTER

__all__ = ["CHAPTER"]
