"""The notebook builder and `labkit notebooks check`, on the real sources and on temp copies."""
from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import polib
import pytest
from click.testing import CliRunner

from labkit.cli.main import main
from labkit.errors import UsageError
from labkit.labs import CHAPTERS
from labkit.labs.snapshots.steps import CHAPTER
from labkit.notebooks.build import PO, POT, Notebook, build, import_nbformat, markdown_blocks, notebooks, render_cell
from labkit.notebooks.check import code_signature, problems, strip_comments

ROOT = Path(__file__).resolve().parents[2]
FIRST = Notebook("snapshots", "snapshots")
NOTEBOOKS = {lang: FIRST.output(lang) for lang in ("en", "fr")}
# The second lab's step ids are a contract (issue 12); its chapter module may land after its notebook.
SECOND_STEPS = ["remote", "snapshot", "copy", "autostart", "schedule", "pattern", "expiry", "refresh"]
STEPS = {"snapshots": [step.id for step in CHAPTER.steps], "snapshot-server": SECOND_STEPS}
PARAMETERS = {
    "snapshots": {"container": "ubuntu-test", "snapshot": "ubuntu-test-1", "project": "", "autosolve": False,
                  "journal": None},
    "snapshot-server": {"container": "ubuntu-test", "snapshot": "ubuntu-test-1", "remote": "incus-snapshot",
                        "project": "", "autosolve": False, "address": "", "token": "", "journal": None},
}
NAMES = list(STEPS)
nbformat = import_nbformat()  # without the grammar compilation a plain import pays


def keys(found) -> list[str]:
    return [m.key for m in found]


@pytest.fixture
def repo(tmp_path: Path, package_copy: Path) -> Path:
    """A copy of what `labkit notebooks check` reads: the package, notebooks and translations (labkit/,
    which no test here writes, is the session's one copy: tests/unit/conftest.py)."""
    (tmp_path / "labkit").symlink_to(package_copy, target_is_directory=True)
    for folder in ("notebooks", "translations"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def notebook(lang: str, root: Path = ROOT, name: str = "snapshots") -> nbformat.NotebookNode:
    return nbformat.read(root / "notebooks" / lang / f"{name}.ipynb", as_version=4)


def tagged(nb, tag: str) -> list:
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def test_committed_notebooks_and_catalogue_are_in_sync() -> None:
    assert [m.render("en") for m in problems(ROOT)] == []


def test_build_is_deterministic_and_reproduces_the_committed_files(repo: Path) -> None:
    first = {p: p.read_bytes() for p in build(repo)}
    second = {p: p.read_bytes() for p in build(repo)}
    assert first == second
    for path, content in first.items():
        assert content == (ROOT / path.relative_to(repo)).read_bytes(), path


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_notebook_shape(lang: str, name: str) -> None:
    nb = notebook(lang, name=name)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.labkit == {"lab": name, "lang": lang, "source": f"notebooks/source/{name}.md"}
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    params = tagged(nb, "parameters")[0]
    values = {t.id: ast.literal_eval(v) for node in ast.parse(params.source).body
              if isinstance(node, ast.Assign) for t, v in [(node.targets[0], node.value)]}
    assert values == {**PARAMETERS[name], "lang": lang}
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = 'lab = Lab(container=container' if name == "snapshots" else f'lab = Lab(lab="{name}", container=container'
    assert code[0] is params and setup in code[1].source and "setup" in code[1].metadata.tags
    assert code[-1].source.startswith("lab.summary()")
    assert "!incus" not in "".join(c.source for c in code)


@pytest.mark.parametrize("name", NAMES)
def test_every_step_is_explained_then_commanded_then_checked(name: str) -> None:
    nb = notebook("en", name=name)
    checked = [next(t for t in c.metadata.tags if t.startswith("step:"))[5:] for c in tagged(nb, "check")]
    assert checked == STEPS[name]
    for step in STEPS[name]:
        cells = tagged(nb, f"step:{step}")
        roles = [next(t for t in c.metadata.tags if ":" not in t) for c in cells]
        # The hidden solution sits before the command, so Shift+Enter goes from the command to its check.
        assert roles[0] == "explain" and roles[-2:] == ["command", "check"], (step, roles)
        assert cells[-1].source == f'lab.check("{step}")'
        assert [c.id for c in cells] == [f"{step}-{role}" for role in roles]


@pytest.mark.parametrize("name", NAMES)
def test_nothing_performs_a_step_without_autosolve(name: str) -> None:
    """Command cells hold only a comment; solution cells only act under `if autosolve:`."""
    for lang in ("en", "fr"):
        nb = notebook(lang, name=name)
        for cell in tagged(nb, "command"):
            lines = cell.source.split("\n")
            assert lines[0] == "%%bash" and len(lines) > 1, cell.id
            assert all(line.startswith("# ") for line in lines[1:]), cell.id
        for cell in tagged(nb, "solution"):
            assert cell.source.startswith("if autosolve:\n"), cell.id
            assert all(line.startswith("    ") or not line for line in cell.source.split("\n")[1:]), cell.id
        # "incus" as a word, not the remote's name "incus-snapshot" in the parameters
        acting = [c.id for c in nb.cells if c.cell_type == "code" and "solution" not in c.metadata.tags
                  and (re.search(r"\bincus\b(?!-)", strip_comments(c.source)) or ".solve(" in c.source)]
        assert acting == [], acting


@pytest.mark.parametrize("name", NAMES)
def test_cells_are_the_same_in_both_languages_except_text(name: str) -> None:
    en, fr = notebook("en", name=name), notebook("fr", name=name)
    assert [(c.id, c.cell_type, c.metadata) for c in en.cells] == [(c.id, c.cell_type, c.metadata) for c in fr.cells]
    assert code_signature(en) == code_signature(fr)
    for a, b in zip(en.cells, fr.cells):
        if a.cell_type == "markdown" or "command" in a.metadata.tags:
            assert a.source != b.source, a.id  # translated, not copied


def test_every_source_is_built_and_only_the_first_chapters_contexts_go_unprefixed() -> None:
    books = notebooks(ROOT)
    assert [(b.name, b.lab, b.prefix) for b in books][:2] == [("snapshots", "snapshots", ""),
                                                             ("snapshot-server", "snapshot-server", "snapshot-server/")]
    assert {b.name for b in books} == {p.stem for p in (ROOT / "notebooks" / "source").glob("*.md")}
    pot = polib.pofile(str(ROOT / POT))
    by_source = {}
    for entry in pot:
        by_source.setdefault(entry.occurrences[0][0], []).append(entry.msgctxt)
    assert not any("/" in c for c in by_source["notebooks/source/snapshots.md"])
    assert all(c.startswith("snapshot-server/") for c in by_source["notebooks/source/snapshot-server.md"])
    assert "snapshot-server/snapshot-explain:1" in by_source["notebooks/source/snapshot-server.md"]


def test_the_second_chapter_keeps_its_contract() -> None:
    if "snapshot-server" in CHAPTERS:  # the chapter module may land after its notebook
        assert list(CHAPTERS["snapshot-server"].step_ids) == SECOND_STEPS


def test_the_first_notebook_does_not_depend_on_the_others(repo: Path) -> None:
    """Another notebook with the same cell ids and other text: the first notebook's files stay byte for
    byte as they are, and each text keeps its own key (and so its own French)."""
    first = (repo / "notebooks" / "source" / "snapshots.md").read_text(encoding="utf-8")
    assert "# Incus container snapshots" in first
    (repo / "notebooks" / "source" / "snapshot-server.md").write_text(
        first.replace("# Incus container snapshots", "# Another title"), encoding="utf-8")
    build(repo)
    for relative in NOTEBOOKS.values():
        assert (repo / relative).read_bytes() == (ROOT / relative).read_bytes(), relative
    titles = {e.msgctxt: e.msgid for e in polib.pofile(str(repo / POT)) if e.msgctxt.endswith("intro:1")}
    assert titles == {"intro:1": "# Incus container snapshots", "snapshot-server/intro:1": "# Another title"}


def test_a_new_source_is_built_with_its_own_prefix(repo: Path) -> None:
    text = (repo / "notebooks" / "source" / "snapshot-server.md").read_text(encoding="utf-8")
    (repo / "notebooks" / "source" / "later.md").write_text(text.replace("# A snapshot server", "# Later"),
                                                            encoding="utf-8")
    build(repo)
    assert notebook("en", repo, "later").metadata.labkit["lab"] == "later"
    contexts = {e.msgctxt for e in polib.pofile(str(repo / POT))}
    assert {"later/intro:1", "snapshot-server/intro:1", "intro:1"} <= contexts
    # Its text is new to the French catalogue: the check says so, by key.
    missing = [m.params["key"] for m in problems(repo) if m.key == "catalogue.missing"]
    assert "later/intro:1" in missing and not any(not key.startswith("later/") for key in missing)


@pytest.mark.parametrize("cell_id", ["snapshot-server/intro", "intro", ""])
def test_a_cell_id_that_could_take_another_key_is_refused(repo: Path, cell_id: str) -> None:
    """No "/" (the prefix's separator), no id twice, none missing: so no two units share a key and its French."""
    source = repo / "notebooks" / "source" / "snapshots.md"
    cell = f'<!-- #region id="{cell_id}" tags=["explain"] -->' if cell_id else '<!-- #region tags=["explain"] -->'
    source.write_text(source.read_text(encoding="utf-8") + f"\n{cell}\nAnother text.\n<!-- #endregion -->\n",
                      encoding="utf-8")
    with pytest.raises(UsageError) as raised:
        build(repo)
    assert raised.value.message.key == "notebooks.cell_id"
    assert raised.value.message.params["path"] == "notebooks/source/snapshots.md"


def test_emptied_french_msgstr_fails_the_check(repo: Path) -> None:
    po = polib.pofile(str(repo / PO))
    entry = next(e for e in po if e.msgctxt == "snapshot-explain:1")
    entry.msgstr = ""
    po.save()
    assert "catalogue.missing" in keys(problems(repo))
    done = CliRunner().invoke(main, ["--lang", "en", "notebooks", "check", "--root", str(repo)])
    assert done.exit_code == 1
    assert "snapshot-explain:1" in done.stderr and "notebooks/fr/snapshots.ipynb" in done.stderr


def test_fuzzy_and_copied_entries_fail(repo: Path) -> None:
    po = polib.pofile(str(repo / PO))
    po[0].flags.append("fuzzy")
    po[1].msgstr = po[1].msgid
    po.save()
    found = keys(problems(repo))
    assert "catalogue.fuzzy" in found and "catalogue.untranslated" in found


def test_french_typography_and_literal_code_are_checked(repo: Path) -> None:
    po = polib.pofile(str(repo / PO))
    entry = next(e for e in po if e.msgctxt == "prerequisites-explain:2")
    entry.msgstr = entry.msgstr.replace("\u00a0:", " :").replace("`labkit setup`", "`labkit installer`")
    po.save()
    build(repo)
    found = keys(problems(repo))
    assert found.count("catalogue.typography") == 1 and found.count("notebooks.code_spans") == 1
    assert "notebooks.stale" not in found  # the notebooks were rebuilt: only the catalogue is wrong


def test_stale_notebook_and_diverging_code_fail(repo: Path) -> None:
    path = repo / NOTEBOOKS["fr"]
    nb = nbformat.read(path, as_version=4)
    check = next(c for c in nb.cells if c.id == "snapshot-check")
    check.source = 'lab.check("touch")'
    nbformat.write(nb, path)
    found = problems(repo)
    assert "notebooks.stale" in keys(found)
    assert [m.params["cell"] for m in found if m.key == "notebooks.code_differs"] == ["snapshot-check"]


def test_translated_comments_and_lang_do_not_count_as_code(repo: Path) -> None:
    path = repo / NOTEBOOKS["fr"]
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.id in ("parameters", "stop-command"):
            cell.source = cell.source.replace("# ", "# autre commentaire ").replace('lang = "fr"', 'lang = "de"')
    nbformat.write(nb, path)
    found = keys(problems(repo))
    assert "notebooks.stale" in found and "notebooks.code_differs" not in found


def test_markdown_blocks_keep_fenced_code_whole() -> None:
    text = "Intro `x`.\n\n```bash\necho a\n\necho b\n```\n\n- one\n- two"
    assert markdown_blocks(text) == ["Intro `x`.", "```bash\necho a\n\necho b\n```", "- one\n- two"]
    units = []
    render_cell("c", "markdown", text, lambda ctx, s: units.append((ctx, s)) or s)
    assert units == [("c:1", "Intro `x`."), ("c:2", "- one\n- two")]


def test_comment_blocks_are_units_and_code_stays() -> None:
    source = "%%bash\n# First line\n# second line\necho hi\n    # indented"
    out = render_cell("cmd", "code", source, lambda ctx, s: f"{ctx}|{s.upper()}")
    assert out == "%%bash\n# cmd:1|FIRST LINE\n# SECOND LINE\necho hi\n    # cmd:2|INDENTED"


def test_pot_lists_every_unit_with_a_context() -> None:
    pot = polib.pofile(str(ROOT / POT))
    contexts = [e.msgctxt for e in pot]
    assert len(contexts) == len(set(contexts)) and all(":" in c for c in contexts)
    assert {"intro:1", "snapshot-explain:1", "parameters:1", "snapshot-command:1"} <= set(contexts)
