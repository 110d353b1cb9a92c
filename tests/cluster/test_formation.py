"""The cluster itself: formed as asked, and removed without a trace, even with a member dead."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from scripts.cluster import IMAGE_ALIAS, Cluster

from .conftest import Cleanup, require_cluster_parts

pytestmark = pytest.mark.cluster


def main_daemon() -> tuple[int, list[str]]:
    """The machine's own daemon: its PID, and any project named like ours (none, ever).  Other
    engineers' tests create projects there at the same time, so only ours are looked for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCUS_")}
    query = lambda path: json.loads(subprocess.run(["incus", "query", path], env=env, capture_output=True,  # noqa: E731
                                                   text=True, check=True).stdout)
    ours = sorted(p for p in query("/1.0/projects") if "/lkcl-" in p)
    return query("/1.0")["environment"]["server_pid"], ours


def test_three_members_online_with_a_pool_each_and_the_image(cluster: Cluster) -> None:
    members = json.loads(cluster.incus("cluster", "list", "--format", "json").stdout)
    assert {m["server_name"]: m["status"] for m in members} == {"m1": "Online", "m2": "Online", "m3": "Online"}
    assert {m["url"] for m in members} == {f"https://{m.https}" for m in cluster.members}
    for member in cluster.members:
        pool = json.loads(cluster.incus("query", f"/1.0/storage-pools/default?target={member.name}").stdout)
        assert pool["driver"] == "dir" and pool["status"] == "Created"
        # Every member answers on its own socket and sees the same cluster.
        server = json.loads(cluster.incus("query", "/1.0", member=member).stdout)
        assert server["environment"]["server_name"] == member.name and server["environment"]["server_clustered"]
    aliases = json.loads(cluster.incus("image", "alias", "list", "--format", "json").stdout)
    assert IMAGE_ALIAS in {a["name"] for a in aliases}
    # No way out of the namespaces: only the bridge's /24.
    routes = subprocess.run(["ip", "netns", "exec", cluster.members[1].netns, "ip", "-4", "route"],
                            capture_output=True, text=True, check=True).stdout
    assert "default" not in routes and routes.count("\n") == 1


def test_down_removes_everything_even_with_a_dead_member_and_a_running_instance(cleanup: Cleanup) -> None:
    require_cluster_parts()
    before = main_daemon()
    small = cleanup.add(Cluster.new(2))
    small.up()
    try:
        small.incus("launch", IMAGE_ALIAS, "lkcl-orphan", "--target", "m2", timeout=300)
        small.kill(small.member("m2"))  # its container keeps running, with nobody to stop it
        assert small.leftovers()["processes"], "the instance's monitor should outlive its daemon"
    finally:
        cleanup.clusters.remove(small)
        problems = small.down()
    assert problems == []
    assert small.leftovers() == {"namespaces": [], "links": [], "mounts": [], "processes": [], "folder": []}
    assert main_daemon() == before
