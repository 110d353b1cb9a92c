"""Both labs' grading again with every core busy: the same verdicts as on a quiet machine (issue 19).

Debian's `stress-ng` (`labkit setup --test-tools` installs it with chromium) keeps every core busy for
the whole module: started here, bounded in time by its own --timeout, stopped here by its process
group (the one it was started in).  A representative subset, to keep CI short: the first lab's
chapter typed as fast as a script with the event recorder, checked after each step, and done on an
instance labkit did not set up; the second lab's whole chapter.  Any other integration test runs
under the same pressure with LABKIT_CPU_PRESSURE=1 (tests/integration/conftest.py), e.g.
`LABKIT_CPU_PRESSURE=1 pytest tests/integration/test_chapter.py tests/integration/test_snapshot_server_chapter.py`.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from . import test_chapter, test_grading_honesty
from .conftest import current_load, stress_every_core
from .test_grading_honesty import STEPS, recorded, typed_as_fast_as_a_script  # noqa: F401  (a fixture)
from .test_snapshot_server_chapter import Learner, follow_the_chapter, learner, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration
# Longer than the module takes on these machines (about 2 minutes); stress-ng stops by itself then,
# even if this process were killed before its teardown.
PRESSURE_SECONDS = 600


@pytest.fixture(scope="module", autouse=True)
def cpu_pressure() -> Iterator[subprocess.Popen | None]:
    if os.environ.get("LABKIT_CPU_PRESSURE") in ("1", "true", "yes"):
        yield None  # the whole run is under pressure already (conftest.py)
        return
    with stress_every_core(PRESSURE_SECONDS) as proc:
        yield proc


def test_first_lab_typed_as_fast_as_a_script_with_the_recorder_under_load(recorded) -> None:  # noqa: F811
    data = typed_as_fast_as_a_script(recorded, "fr")
    print(f"\n[verdicts] fast script: {[s['status'] for s in data['steps']]} at load {current_load():.1f}")
    assert {s["id"]: s["status"] for s in data["steps"]} == dict.fromkeys(STEPS, "passed"), data


def test_first_lab_checked_after_each_step_under_load(instance: str, tmp_path: Path) -> None:
    test_chapter.test_following_the_chapter_in_order_gives_the_full_score(instance, tmp_path, "en")


def test_first_lab_on_an_instance_labkit_did_not_set_up_under_load(instance: str, tmp_path: Path) -> None:
    test_grading_honesty.test_the_chapter_on_an_instance_labkit_did_not_set_up_checked_once_is_not_verified_never_failed(
        instance, tmp_path, "en")


def test_second_lab_followed_in_order_under_load(learner: Learner) -> None:  # noqa: F811
    watcher = learner.watch()
    try:
        follow_the_chapter(learner)
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)
