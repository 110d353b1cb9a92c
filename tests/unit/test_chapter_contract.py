"""A new chapter needs nothing outside its folder: the test chapter (tests/chapter_fixture, never
shipped) is registered through the public contract only (LABKIT_CHAPTERS) and runs through
`labkit check` (the fast path and click), the notebook builder, the catalogue, `class status` and
the dashboard's JSON, with no change anywhere in labkit/ and nothing there naming it.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from labkit.classroom.report import status_json
from labkit.classroom.status import class_status
from labkit.grading.contract import INSTANCE_PARAM
from labkit.hub import dashboard
from labkit.keys import LAB_KEY
from labkit.labs import CHAPTERS, EXTRA_CHAPTERS, chapter_named
from labkit.notebooks import build
from labkit.notebooks.catalogue import catalogue_problems, extracted_messages

from .fake_incus import FakeIncus
from .test_class import fake_class, fake_client
from .test_fast_check import daemon, labkit  # noqa: F401 - `daemon` is a fixture

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "tests" / "chapter_fixture"
LAB = "described"
REGISTRATION = f"{LAB}=tests.chapter_fixture"
# What a chapter may import of labkit: the contract, the engine's verdicts, the messages.
PUBLIC = {"labkit.grading.contract", "labkit.grading.engine", "labkit.i18n"}


@pytest.fixture
def chapter(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(EXTRA_CHAPTERS, REGISTRATION)
    yield chapter_named(LAB)
    monkeypatch.delenv(EXTRA_CHAPTERS)
    CHAPTERS.pop(LAB, None)


def labkit_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    found |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return {name for name in found if name.split(".")[0] == "labkit"}


def test_the_chapter_uses_the_public_contract_only_and_nothing_in_labkit_names_it(chapter) -> None:
    assert labkit_imports(FOLDER / "__init__.py") <= PUBLIC, labkit_imports(FOLDER / "__init__.py") - PUBLIC
    assert chapter.id == LAB and LAB in CHAPTERS and chapter.step_ids == ("running", "describe")
    named = [p.relative_to(ROOT).as_posix() for p in (ROOT / "labkit").rglob("*.py")
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and (node.value == LAB or node.value.startswith(f"{LAB}.") or "chapter_fixture" in node.value)]
    assert not named, named


def test_an_unregistered_chapter_is_an_unknown_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit.errors import UsageError

    monkeypatch.delenv(EXTRA_CHAPTERS, raising=False)
    CHAPTERS.pop(LAB, None)
    with pytest.raises(UsageError):
        chapter_named(LAB)


CLICK = ["-c", "from labkit.cli.main import main; main()"]


def test_labkit_check_grades_it_on_the_fast_path_and_through_click(daemon: FakeIncus) -> None:  # noqa: F811
    daemon.env = {**daemon.env, EXTRA_CHAPTERS: REGISTRATION}
    fast = labkit(daemon, "--lab", LAB, "check", journal="fast.json")
    clicked = labkit(daemon, "--lab", LAB, "check", journal="click.json", program=CLICK)
    # The recorded instance runs and has no description: one step passed, one failed (exit 1).
    assert fast.returncode == 1, fast.stderr
    assert re.search(r"✔ passed\s+running", fast.stdout) and re.search(r"✘ failed\s+describe", fast.stdout), fast.stdout
    assert "has no description yet" in fast.stdout and "incus config set ubuntu-test --property" in fast.stdout
    assert (fast.returncode, fast.stdout, fast.stderr) == (clicked.returncode, clicked.stdout, clicked.stderr)
    assert "GET /1.0/instances/ubuntu-test?project=default" in daemon.requests
    # Its journal is filed under its own id and params, like any chapter's.
    journal = json.loads((daemon.tmp / "fast.json").read_text())
    assert journal["lab"] == LAB and journal["container"] == "ubuntu-test"
    assert [c["step"] for c in journal["checks"]] == ["running", "describe"]
    one = labkit(daemon, "--lab", LAB, "check", "running", "--json", journal="fast.json")
    assert one.returncode == 0 and [s["id"] for s in json.loads(one.stdout)["steps"]] == ["running"], one.stdout


def test_without_the_registration_check_says_it_is_not_a_lab(daemon: FakeIncus) -> None:  # noqa: F811
    done = labkit(daemon, "--lab", LAB, "check", journal="x.json")
    assert done.returncode == 2 and LAB in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_notebook_builder_builds_its_notebook_in_both_languages(chapter) -> None:
    books = {book.name: book for book in build.notebooks(ROOT)}
    assert books[LAB].source == Path("tests/chapter_fixture/notebook.md") and books[LAB].prefix == f"{LAB}/"
    # The first chapter's contexts stay unprefixed by its own declaration, not by its place in the list.
    assert books["snapshots"].prefix == "" and books["snapshot-server"].prefix == "snapshot-server/"
    written = build.expected(ROOT)
    for lang in ("en", "fr"):
        notebook = json.loads(written[Path("notebooks") / lang / f"{LAB}.ipynb"])
        source = "tests/chapter_fixture/notebook.md"
        assert notebook["metadata"]["labkit"] == {"lab": LAB, "lang": lang, "source": source}
        assert any('Lab(lab="described"' in "".join(cell["source"]) for cell in notebook["cells"])
        assert any(f'lang = "{lang}"' in "".join(cell["source"]) for cell in notebook["cells"])
    # Its paragraphs join the template the translators get, under its own contexts.
    assert f'msgctxt "{LAB}/intro:1"' in written[build.POT]


def test_the_catalogue_lists_its_text_to_translate(chapter, tmp_path: Path) -> None:
    """Its messages are extracted from its folder like any chapter's, and the catalogue check names
    each one until it has a French translation (its notebook's too)."""
    import polib

    messages = extracted_messages(FOLDER)
    assert ("described.describe.no", "{name} has no description yet.") in messages
    pot = polib.POFile()
    for context, english in sorted(messages, key=str):
        pot.append(polib.POEntry(msgctxt=context, msgid=english))
    pot.save(str(tmp_path / "chapter.pot"))
    problems = catalogue_problems(tmp_path / "chapter.pot", ROOT / "translations" / "fr" / "LC_MESSAGES" / "labkit.po")
    missing = {p.params["key"] for p in problems if p.key == "catalogue.missing"}
    assert missing == {context for context, _ in messages}
    notebook_pot = tmp_path / "notebooks.pot"
    notebook_pot.write_text(build.expected(ROOT)[build.POT], encoding="utf-8")
    problems = catalogue_problems(notebook_pot, ROOT / build.PO)
    assert {p.params["key"] for p in problems} == {e.msgctxt for e in polib.pofile(str(notebook_pot))
                                                   if e.msgctxt.startswith(f"{LAB}/")}


def test_class_status_and_the_dashboards_json_grade_it(chapter, tmp_path: Path) -> None:
    handler, _ = fake_class({"alice": "restored_running", "bob": "instance_deleted"})

    def described(request):
        answer = handler(request)
        if request.url.path == "/1.0/projects":  # the class records its lab, as `class create --lab` does
            projects = answer.json()["metadata"]
            projects[0]["config"][LAB_KEY] = LAB
            return type(answer)(200, json={"type": "sync", "metadata": projects})
        return answer

    status = class_status(client=fake_client(described), name="demo", folder=tmp_path)
    by = {ls.learner: ls for ls in status.learners}
    assert [r.step for r in by["alice"].results] == ["running", "describe"]
    assert [r.status.value for r in by["alice"].results] == ["passed", "failed"]
    assert by["alice"].score.earned == 2 and by["alice"].score.possible == 3
    assert by["bob"].results[0].status.value == "failed"  # no instance: not running
    data = status_json(status, "en")
    grading = dashboard.Grading("demo", tmp_path, "en")
    grading.show(status)  # what the dashboard's status.json serves
    assert grading.latest == data
    assert data["lab"] == LAB and data["steps"] == ["running", "describe"]
    assert data["step_titles"] == ["The instance runs", "Describe the instance"]
    alice = next(ls for ls in data["learners"] if ls["learner"] == "alice")
    assert alice["last_failure"]["diagnosis"] == "no_description"
    # Its journals are the class's, filed under the learner, in the chapter's params.
    journal = json.loads((tmp_path / "journals" / "alice.json").read_text())
    assert journal["lab"] == LAB and journal["container"] == chapter.defaults[INSTANCE_PARAM]


def test_a_module_registered_under_another_id_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit.errors import UsageError

    monkeypatch.setenv(EXTRA_CHAPTERS, "other-id=tests.chapter_fixture")
    try:
        with pytest.raises(UsageError) as refused:
            chapter_named("other-id")
        assert "described" in refused.value.render("en")
    finally:
        CHAPTERS.pop("other-id", None)
        monkeypatch.delenv(EXTRA_CHAPTERS)


def test_a_declared_server_is_reached_by_its_declaration_opened_once_and_missing_is_clear() -> None:
    from labkit.app.session import server_openers
    from labkit.errors import ServerMissing
    from labkit.grading.access import Access
    from labkit.servers import SNAPSHOT_SERVER

    class Client:
        closed = False

        def close(self) -> None:
            self.closed = True

    made: list[Client] = []
    access = Access(main=None, servers={SNAPSHOT_SERVER.id: lambda: made.append(Client()) or made[-1]})
    assert access.server(SNAPSHOT_SERVER) is access.server(SNAPSHOT_SERVER) and len(made) == 1
    access.close()
    assert made[0].closed
    with pytest.raises(ServerMissing) as missing:
        Access(main=None).server(SNAPSHOT_SERVER)
    assert "sudo labkit setup --snapshot-server" in missing.value.render("en")
    assert "serveur d’instantanés" in missing.value.render("fr")
    # A session opens only the servers its chapter declares.
    assert set(server_openers(CHAPTERS["snapshot-server"], "p1")) == {SNAPSHOT_SERVER.id}
    assert server_openers(CHAPTERS["snapshots"], "p1") == {}
