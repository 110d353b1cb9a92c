"""Fixtures shared by the notebook tests (test_papermill.py and test_snapshot_server.py)."""
from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

from labkit.incus.client import SYSTEM_SOCKET
from labkit.incus.instances import wait_until_booted
from labkit.provision.daemon import daemon_answers
from tests.integration.conftest import delete_instance, incus, test_image, unique


@pytest.fixture(scope="module")
def kernel() -> str:
    """The `python3` kernel must run this interpreter, where labkit is installed."""
    if not daemon_answers(SYSTEM_SOCKET):
        message = f"no Incus daemon answers on {SYSTEM_SOCKET}: run `labkit setup` (or .ci/run) first"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from jupyter_client.kernelspec import KernelSpecManager

    argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    # jupyter_client replaces a bare "python" with the interpreter running papermill.
    here = os.path.dirname(os.path.abspath(sys.executable))
    assert argv0 in ("python", "python3") or os.path.dirname(os.path.abspath(argv0)) == here, (
        f"the python3 kernel runs {argv0}, not the Python of {here}: "
        f"run `{sys.executable} -m ipykernel install --sys-prefix --name python3`")
    return "python3"


@pytest.fixture
def fresh_instance(kernel: str) -> Iterator[str]:
    name = unique("lk-nb")
    try:
        incus("launch", test_image(), name)
        wait_until_booted(name)
        yield name
    finally:
        delete_instance(name)
