"""Session-wide savings for the unit tests: what several modules would otherwise redo at every
test, done once per session, and the garbage collector kept off the libraries' own objects."""
from __future__ import annotations

import copy
import functools
import gc
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Once a test module is imported, what it created (with JupyterHub, SQLAlchemy and the other
    libraries some modules import: about 140 000 objects, all kept for the session) is set aside
    from the cyclic garbage collector (gc.freeze): each full collection walked all of them again,
    about 0.14 s each time, some 1.4 s of a session.  Objects made by the tests themselves
    are collected as before."""
    gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def no_waiting_for_the_disk() -> Iterator[None]:
    """labkit's journal writes end with os.fsync (labkit/grading/journal.py: a learner's progress
    must survive a power cut).  No unit test can observe it (none cuts the power), and each call
    waits 1 to 5 ms for this machine's disk: the journal tests alone make some 400.  Here fsync
    only checks its file descriptor, so a write to a closed or wrong file still fails as it would."""
    def fsync(fd: int | object) -> None:
        os.fstat(fd if isinstance(fd, int) else fd.fileno())  # type: ignore[attr-defined]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", fsync)
        yield


def files_digest(folder: Path, suffix: str = "") -> str:
    """A digest of every file under `folder` whose name ends with `suffix`, by relative path and content.

    With ".py", that is all that Babel's extractor reads there (it walks the folder as os.walk does,
    skipping some folders, and reads only **.py), and more."""
    digest = hashlib.sha256()
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(suffix):
                path = Path(top, name)
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# The tree's extraction, in a child process: its messages as JSON on stdout.
EXTRACT = ("import json, sys; from pathlib import Path; from labkit.notebooks.catalogue import extracted_messages; "
           "print(json.dumps(sorted(extracted_messages(Path(sys.argv[1])), key=str)))")


@pytest.fixture(scope="session", autouse=True)
def messages_extracted_once_per_source() -> Iterator[None]:
    """Babel's extraction of every M(key, english) in labkit/ is most of the time of
    `labkit notebooks check` (about a second here), and a dozen tests run that check on the tree or
    on copies whose code is the same, changing only catalogues, notebooks or documents.  The
    extraction runs once for each distinct set of sources: a copy whose code differs (by path or by
    content) is extracted afresh, so every caller gets what Babel would say of its folder.

    The tree's own extraction starts as the session does, in a child process on the CPU the first
    tests leave idle (they mostly wait: on a watcher, on timeouts, on labkit processes); the first
    check that needs it, a dozen seconds later, takes its answer, or extracts in process if the
    child failed."""
    from labkit.notebooks import catalogue

    extract = catalogue.extracted_messages
    known: dict[str, frozenset[tuple[str | None, str]]] = {}
    tree = files_digest(ROOT / "labkit", ".py")
    child = subprocess.Popen([sys.executable, "-c", EXTRACT, str(ROOT / "labkit")], cwd=ROOT, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def extracted_messages(package_dir: Path) -> set[tuple[str | None, str]]:
        sources = files_digest(Path(package_dir), ".py")
        if sources == tree and sources not in known and child.returncode is None:
            try:
                out = child.communicate(timeout=120)[0]
            except subprocess.TimeoutExpired:
                child.kill()
                out = child.communicate()[0]
            if child.returncode == 0:
                known[sources] = frozenset((context, message) for context, message in json.loads(out))
        if sources not in known:
            known[sources] = frozenset(extract(package_dir))
        return set(known[sources])

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(catalogue, "extracted_messages", extracted_messages)
            yield
    finally:
        if child.poll() is None:  # a session with no catalogue check
            child.kill()
        child.communicate()


@pytest.fixture(scope="session", autouse=True)
def checks_reuse_what_they_already_read() -> Iterator[None]:
    """The catalogue and notebook checks run some thirty times a session, on the tree and on copies
    where a test changed one entry, one paragraph or one file.  Two steps that depend on their input
    alone are done once for each distinct input: the typography and glossary verdict on one text
    (slips and term_slips, as labkit/notebooks/catalogue.py calls them: about 0.1 s a catalogue),
    and jupytext's reading of a notebook source (by the file's bytes: 35 ms a source, each caller
    getting its own copy).  A text or file a test changed is checked and read afresh."""
    from labkit.notebooks import build, catalogue

    def once_per_text(check: Any) -> Any:
        verdicts = functools.lru_cache(maxsize=None)(lambda *args, **kwargs: tuple(check(*args, **kwargs)))
        return lambda *args, **kwargs: list(verdicts(*args, **kwargs))

    read_source = build._read_source
    sources: dict[tuple[Any, bytes], Any] = {}

    def _read_source(root: Path, book: Any) -> Any:
        path = root / book.source
        if not path.is_file():
            return read_source(root, book)  # it says so
        key = (book, path.read_bytes())
        if key not in sources:
            sources[key] = read_source(root, book)
        return copy.deepcopy(sources[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(catalogue, "slips", once_per_text(catalogue.slips))
        patch.setattr(catalogue, "term_slips", once_per_text(catalogue.term_slips))
        patch.setattr(build, "_read_source", _read_source)
        yield


@pytest.fixture(scope="session")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One copy of labkit/ for the tests that run the catalogue and notebook checks on a copy of the
    repository: they read the package (its messages, its compiled catalogue) and never write it, so
    each links its copy's labkit/ here instead of copying some 130 files (creating and later deleting
    them is a good part of those tests' time on a slow disk).  Checked unchanged at the end."""
    package = tmp_path_factory.mktemp("package") / "labkit"
    shutil.copytree(ROOT / "labkit", package, ignore=shutil.ignore_patterns("__pycache__"))
    before = files_digest(package)
    yield package
    assert files_digest(package) == before, "a test wrote into the shared copy of labkit/: give that test its own copy"
