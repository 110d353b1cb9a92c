"""A class on an Incus cluster, without a daemon: who is on which member, which member does not
answer, the member column, and operation URLs that carry a project.

The answers are shaped as a three-member Incus 6.0.4 cluster gave them (tests/cluster/,
m3's daemon killed): member 1 lists m3's instances as status "Error", status_code 112,
config null, with their `location`, and answers 500 "Server isn't ready yet" to a request
targeted at m3; the members list keeps m3 "Online" until ~20 s of missed heartbeats.
"""
from __future__ import annotations

import json
from pathlib import Path

import httpx

from labkit.classroom.info import ClassInfo
from labkit.classroom.members import learner_members, member_down_results, unreachable_members
from labkit.grading.engine import Status
from labkit.incus.client import Endpoint, IncusClient
from labkit.labs import CHAPTERS

INFO = ClassInfo("demo", "ubuntu-test", {"learner01": "demo-learner01", "learner02": "demo-learner02",
                                         "learner03": "demo-learner03"})


def listed(project: str, location: str, up: bool = True) -> dict:
    if up:
        return {"name": "ubuntu-test", "project": project, "status": "Running", "location": location,
                "config": {"volatile.uuid": "u"}}
    return {"name": "ubuntu-test", "project": project, "status": "Error", "status_code": 112, "location": location,
            "config": None, "created_at": "0001-01-01T00:00:00Z"}


def fake(members: dict[str, str], answering: set[str], seen: list[str]) -> IncusClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/1.0/cluster/members":
            body = [{"server_name": name, "status": status} for name, status in members.items()]
            return httpx.Response(200, json={"type": "sync", "metadata": body})
        target = request.url.params.get("target")
        if request.url.path == "/1.0" and target:
            if target in answering:
                return httpx.Response(200, json={"type": "sync", "metadata": {"config": {}}})
            return httpx.Response(500, json={"type": "error", "error": "Server isn't ready yet", "error_code": 500})
        return httpx.Response(404, json={"type": "error", "error": "not found", "error_code": 404})

    return IncusClient(Endpoint(Path("/nonexistent.socket"), "default"), transport=httpx.MockTransport(handler))


CLUSTER = [listed("demo-learner01", "m1"), listed("demo-learner02", "m2"), listed("demo-learner03", "m3", up=False),
           listed("other-class", "m3", up=False)]


def test_learner_members_from_the_listing_and_none_on_a_single_server():
    assert learner_members(INFO, CLUSTER) == {"learner01": "m1", "learner02": "m2", "learner03": "m3"}
    single = [dict(i, location="none") for i in CLUSTER]
    assert learner_members(INFO, single) == {}
    assert learner_members(INFO, [dict(i, location="") for i in CLUSTER]) == {}


def test_a_member_listed_in_error_that_does_not_answer_is_down():
    seen: list[str] = []
    with fake({"m1": "Online", "m2": "Online", "m3": "Online"}, {"m1", "m2"}, seen) as client:
        assert unreachable_members(client, INFO, CLUSTER, learner_members(INFO, CLUSTER)) == {"m3"}
    # One probe, for the suspect only (not for m1 or m2, whose instances are listed normally).
    assert [url for url in seen if "target=" in url] == ["http://incus/1.0?target=m3"]


def test_a_stopping_instance_on_a_member_that_answers_is_not_a_member_down():
    seen: list[str] = []
    with fake({"m1": "Online", "m2": "Online", "m3": "Online"}, {"m1", "m2", "m3"}, seen) as client:
        assert unreachable_members(client, INFO, CLUSTER, learner_members(INFO, CLUSTER)) == frozenset()


def test_an_offline_member_is_probed_even_when_its_instances_look_fine():
    listing = [listed("demo-learner01", "m1"), listed("demo-learner02", "m2"), listed("demo-learner03", "m3")]
    seen: list[str] = []
    with fake({"m1": "Online", "m2": "Offline", "m3": "Online"}, {"m1", "m3"}, seen) as client:
        assert unreachable_members(client, INFO, listing, learner_members(INFO, listing)) == {"m2"}


def test_a_member_holding_none_of_the_class_is_not_looked_at():
    listing = [listed("demo-learner01", "m1"), listed("demo-learner02", "m1"), listed("other-class", "m3", up=False)]
    seen: list[str] = []
    with fake({"m1": "Online", "m3": "Offline"}, {"m1"}, seen) as client:
        assert unreachable_members(client, INFO, listing, learner_members(INFO, listing)) == frozenset()
    assert not [url for url in seen if "target=" in url]


def test_a_single_server_asks_nothing_more():
    seen: list[str] = []
    with fake({}, set(), seen) as client:
        assert unreachable_members(client, INFO, [dict(i, location="none") for i in CLUSTER], {}) == frozenset()
    assert seen == []


def test_unobserved_learners_are_not_verified_with_no_points_and_say_which_member():
    chapter = CHAPTERS["snapshots"]
    results = member_down_results(chapter, "m3")
    assert [r.step for r in results] == list(chapter.step_ids)
    assert {r.status for r in results} == {Status.NOT_VERIFIED} and sum(r.points for r in results) == 0
    assert sum(r.possible for r in results) == sum(s.points for s in chapter.steps)
    assert "m3" in results[0].message.render("en") and "m3" in results[0].message.render("fr")
    assert "membre" in results[0].message.render("fr")


def test_an_operation_url_with_a_project_is_waited_on_at_the_right_path():
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if request.method == "PUT":
            return httpx.Response(202, json={"type": "async",
                                             "operation": "/1.0/operations/abc?project=demo-learner02"})
        return httpx.Response(200, json={"type": "sync", "metadata": {"status": "Success", "status_code": 200}})

    with IncusClient(Endpoint(Path("/nonexistent.socket"), "default"),
                     transport=httpx.MockTransport(handler)) as client:
        client.request("PUT", "/1.0/instances/ubuntu-test/state", params={"project": "demo-learner02"},
                       json={"action": "start"}, timeout=60)
    wait = seen[-1]
    assert wait.path == "/1.0/operations/abc/wait"
    assert wait.params["project"] == "demo-learner02" and wait.params["timeout"] == "60"
    assert json.loads(json.dumps(dict(wait.params)))  # no stray "project=…/wait" in the query
