"""What the checks of the “snapshot server” chapter share (steps.py and
copies.py): their messages' parameters, the order rule (“do X first”), the main
instance's disappearance, the sign of a refresh, and how names are shown (what both
chapters share, such as how times are shown, is in ../evidence_helpers.py).

The evidence rules these apply are in steps.py's docstring.
"""
from __future__ import annotations

from ...grading.engine import Context, Verdict, failed
from .texts import NUDGES, TITLES
from .verdicts import DO_FIRST, INSTANCE_GONE, INSTANCE_GONE_HINT

# What Incus reads as false in boot.autostart (the autostart and the refresh checks both look).
FALSE = ("false", "0", "no", "off")
# Names listed in a message: a learner may make thousands of snapshots.
SHOWN = 5


def msg_params(ctx: Context, **more: str) -> dict[str, str]:
    """The chapter's params that its messages name, plus `more`."""
    return {"container": ctx.params["container"], "snapshot": ctx.params["snapshot"],
            "remote": ctx.params["remote"], **more}


def do_first(ctx: Context, step_id: str) -> Verdict:
    """“Do the step `step_id` first”, with that step's nudge."""
    return failed(DO_FIRST.bind(step=TITLES[step_id]), NUDGES[step_id].bind(**msg_params(ctx)), f"order:{step_id}")


def instance_gone(ctx: Context) -> Verdict | None:
    """The failure every check gives when the main instance no longer exists; None while it does."""
    if ctx.observation.primary is not None:
        return None
    return failed(INSTANCE_GONE.bind(**msg_params(ctx)), INSTANCE_GONE_HINT.bind(**msg_params(ctx)), "instance_deleted")


def looks_refreshed(ctx: Context) -> bool:
    """The copy bears the primary's volatile.uuid, as `incus copy --refresh` from it leaves it.  A client
    can write that key too: a sign that names near-misses and taken evidence, never a proof."""
    obs = ctx.observation
    return bool(obs.copy and obs.primary and obs.copy.uuid and obs.copy.uuid == obs.primary.uuid)


def shown_names(items) -> str:
    """The items' names as a message lists them: the first SHOWN, then “…”."""
    names = [s.name for s in items]
    return ", ".join(names[:SHOWN]) + (", …" if len(names) > SHOWN else "")

