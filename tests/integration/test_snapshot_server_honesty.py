"""The second lab's grade never fails a learner who did the work, and never judges them on someone
else's instance (issue 19), on the real main daemon and a real snapshot server (the fixtures of
test_snapshot_server_chapter.py: a snapshot server in its own INCUS_DIR, a learner with a primary
instance and a fresh client folder).
"""
from __future__ import annotations

import pytest

from labkit.grading.engine import History, Status, grade
from labkit.labs.snapshot_server.steps import CHAPTER

from .conftest import delete_instance, incus, unique
from .test_snapshot_server import second
from .test_snapshot_server_chapter import Learner, learner, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def copied(learner: Learner) -> None:  # noqa: F811
    learner.incus("incus remote add {remote} {address} --token {token} --accept-certificate")
    learner.incus("incus snapshot create {container} {snapshot}")
    learner.incus("incus copy {container}/{snapshot} {remote}:{container}")


def without_listener(learner: Learner) -> dict:  # noqa: F811
    """`labkit check` as it runs with no listener at all: the state only, and what passed before."""
    obs = CHAPTER.observe(learner.access, learner.params)
    return {r.step: r for r in grade(CHAPTER, obs, History(frozenset(learner.passed), None, ()), learner.params)}


def test_a_copy_checked_right_after_it_was_made_without_a_listener_is_not_verified(learner: Learner) -> None:  # noqa: F811
    copied(learner)
    result = without_listener(learner)["copy"]
    assert result.status is Status.NOT_VERIFIED, result
    for lang in ("en", "fr"):
        hint = result.hint.render(lang)
        assert "labkit --lab snapshot-server watch" in hint and "incus delete" not in hint, hint
    # With the listener's report of it (the recorder or `labkit watch` keep it), the same copy passes.
    assert learner.grade()["copy"].passed


def test_a_refresh_that_brought_a_snapshot_taken_before_the_copy_passes(learner: Learner) -> None:  # noqa: F811
    learner.incus("incus remote add {remote} {address} --token {token} --accept-certificate")
    learner.incus("incus snapshot create {container} {snapshot}")
    learner.incus("incus config set {container} snapshots.pattern=\"{container}-{{{{ "
                  "creation_date|date:'2006-01-02_15-04-05' }}}}\"")
    learner.incus("incus snapshot create {container}")  # dated, before the copy
    learner.incus("incus copy {container}/{snapshot} {remote}:{container}")
    learner.incus("incus copy --refresh {container} {remote}:{container}")
    learner.incus("incus config set {remote}:{container} boot.autostart=false")
    result = learner.grade()["refresh"]
    assert result.passed, (result.diagnosis, result.message.render("en"))
    assert f"{learner.name}-20" in result.message.render("fr")


def test_a_learner_without_a_copy_is_never_pointed_at_another_learners_instance(
        learner: Learner, server, image: str) -> None:  # noqa: F811
    """Learner A copies under their own name; learner B, whose instance comes from the same image,
    has no copy yet: B is told to copy, never to move A's instance."""
    copied(learner)
    other = unique("c2-b")
    incus("launch", image, other)
    conf = learner.conf.parent / "incus-b"
    conf.mkdir()
    b = Learner(server, other, conf)
    try:
        # B's own token from the snapshot server (A's certificate stays trusted).
        b.token = second(server.incus_dir, "config", "trust", "add", "learner-b").stdout.strip().splitlines()[-1]
        b.incus("incus remote add {remote} {address} --token {token} --accept-certificate")
        b.incus("incus snapshot create {container} {snapshot}")
        result = b.grade()["copy"]
        assert result.diagnosis == "no_copy", result
        for lang in ("en", "fr"):
            text = result.message.render(lang) + result.hint.render(lang)
            assert learner.name not in text and "incus move" not in text, text
    finally:
        b.close()
        second(server.incus_dir, "delete", other, "--force", check=False)
        delete_instance(other)
