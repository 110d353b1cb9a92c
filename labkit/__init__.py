"""labkit — an Incus snapshots lab, graded against the learner's real container."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Lab", "__version__"]


def __getattr__(name: str):
    # Imported lazily so `labkit --help` does not pay for the notebook API.
    if name == "Lab":
        from .notebooks.api import Lab

        return Lab
    raise AttributeError(name)
