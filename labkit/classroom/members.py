"""Classes on an Incus cluster: which member holds each learner's instance, and which members do not answer.

A member that is down must not hold up the whole class view: its learners are reported once,
as not observed, and nothing is journaled for them until it answers again.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import LabkitError
from ..grading.engine import Chapter, Result, Status
from ..i18n import M
from ..incus.client import IncusClient
from .observe import requests_pool

if TYPE_CHECKING:
    from .info import ClassInfo

MEMBER_UNREACHABLE = "member-unreachable"  # not a learner's mistake: reported once per member, not per step
MEMBER_PROBE = 3.0  # seconds: a member that does not answer the leader this fast is reported, not waited for
MEMBER_DOWN = M("class.status.member_down",
                "Not observed: the cluster member {member} that holds this learner's instance does not answer. "
                "What was seen before is kept; the next refresh looks again.")


def learner_members(info: ClassInfo, listing: list[dict[str, Any]]) -> dict[str, str]:
    """Learner → cluster member holding their instance (empty on a server that is not clustered)."""
    where = {(i.get("project"), i["name"]): i.get("location") or "" for i in listing}
    found = {learner: where.get((project, info.container), "") for learner, project in info.learners.items()}
    return {learner: member for learner, member in found.items() if member and member != "none"}


def unreachable_members(client: IncusClient, info: ClassInfo, listing: list[dict[str, Any]],
                        members: dict[str, str]) -> frozenset[str]:
    """Members holding a learner's instance that do not answer.

    The member we talk to lists another member's instances as “Error” without config when it cannot
    reach it (a stopping instance looks the same for a moment, hence the probe), and says “Offline”
    once heartbeats have failed (about 20 s later).  One short request per suspect member, at once."""
    if not members:
        return frozenset()
    projects = set(info.learners.values())
    suspects = {i.get("location") for i in listing if i.get("project") in projects and i.get("status") == "Error"
                and not i.get("config")} & set(members.values())
    states = client.request("GET", "/1.0/cluster/members", params={"recursion": 1}, project=False) or []
    suspects |= {m["server_name"] for m in states if m.get("status") != "Online"} & set(members.values())
    probes = {member: requests_pool().submit(_member_answers, client, member) for member in suspects}
    return frozenset(member for member, probe in probes.items() if not probe.result())


def _member_answers(client: IncusClient, member: str) -> bool:
    try:
        client.request("GET", "/1.0", params={"target": member}, project=False, timeout=MEMBER_PROBE)
        return True
    except LabkitError:
        return False


def member_down_results(chapter: Chapter, member: str) -> list[Result]:
    message = MEMBER_DOWN.bind(member=member)
    return [Result(step.id, Status.NOT_VERIFIED, 0, step.points, message, diagnosis=MEMBER_UNREACHABLE)
            for step in chapter.steps]
