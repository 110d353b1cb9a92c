"""Build the English and French notebook of every chapter from its one source, and check them.

Each chapter's source, `notebooks/source/<name>.md`, is its English notebook in jupytext's
Markdown format; every cell declares a stable `id` and role tags in its metadata (raw
cells, such as the comments of its YAML header, are notes for authors).  Translatable
units are the paragraphs of Markdown cells (fenced code blocks stay literal) and the
comment blocks of code cells (comments are learner-facing text).  Each unit is one gettext
entry of the one `notebooks` domain, msgid the English text, msgctxt `<cell id>:<n>` in the
first chapter's notebook (it declares so: its French was translated before there was a second)
and `<name>/<cell id>:<n>` in every other.  Cell ids need only be unique in a notebook:
nbformat allows no "/" in them, so a prefixed context can never equal another's.

`build()` writes the template `translations/notebooks.pot` and every notebook; the
French catalogue `translations/fr/LC_MESSAGES/notebooks.po` is the translators' file,
merged with `pybabel update -D notebooks`.  Output is deterministic, so `problems()`
compares committed files byte for byte (check.py).
"""
from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import UsageError
from ..i18n import M
from ..labs import CHAPTERS

SOURCES = Path("notebooks/source")
POT = Path("translations/notebooks.pot")
PO = Path("translations/fr/LC_MESSAGES/notebooks.po")
LANGUAGES = ("en", "fr")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
KEPT_METADATA = ("tags", "jupyter")  # everything else jupytext adds is dropped
LANG_LINE = re.compile(r'^lang\s*=.*$', re.MULTILINE)
COMMENT = re.compile(r"^(\s*)#(?!!) ?(.*)$")
FENCE = ("```", "~~~")
CODE_SPAN = re.compile(r"`[^`\n]+`")
CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")

Translate = Callable[[str, str], str]  # (context, english) -> text


@dataclass(frozen=True)
class Notebook:
    """One chapter's notebook: where its source is, where it is built, how its contexts are named."""

    name: str
    lab: str  # the chapter's id, written in the notebook's metadata
    prefix: str = ""  # before every msgctxt: the chapter's `notebook_context`, "<name>/" by default
    source_path: str = ""  # from the repository's root; notebooks/source/<name>.md by default

    @property
    def source(self) -> Path:
        return Path(self.source_path) if self.source_path else SOURCES / f"{self.name}.md"

    def output(self, lang: str) -> Path:
        return Path("notebooks") / lang / f"{self.name}.ipynb"


def notebooks(root: Path) -> list[Notebook]:
    """The chapters' notebooks in the chapters' order, then every other source found (a chapter
    still being written): a source is never left out, so its French is never merged away."""
    found = sorted(path.stem for path in (root / SOURCES).glob("*.md"))
    books: dict[str, Notebook] = {}
    for chapter in CHAPTERS.values():
        # A chapter that declares no notebook yet owns the source named after it, if any.
        name = chapter.notebook or (chapter.id if chapter.id in found else "")
        if name and name not in books:
            prefix = f"{name}/" if chapter.notebook_context is None else chapter.notebook_context
            books[name] = Notebook(name, chapter.id, prefix, chapter.notebook_source)
    return list(books.values()) + [Notebook(name, name, f"{name}/") for name in found if name not in books]


# -- splitting cells into translatable units ------------------------------
def markdown_blocks(text: str) -> list[str]:
    """Paragraphs separated by blank lines; a fenced code block is one block, blank lines included."""
    blocks: list[str] = []
    current: list[str] = []
    fence = ""
    for line in text.split("\n"):
        stripped = line.lstrip()
        if fence:
            current.append(line)
            fence = "" if stripped.startswith(fence) else fence
        elif stripped.startswith(FENCE):
            fence = stripped[:3]
            current.append(line)
        elif line.strip():
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def _has_words(text: str) -> bool:
    """Text a reader reads: letters, or punctuation French spaces differently (« `fichier` : »)."""
    return any(ch.isalpha() or ch in ":;?!" for ch in CODE_SPAN.sub("", text))


# Inside a fenced block, only what a person reads is text: comments, and a systemd unit's Description=.
DESCRIPTION = re.compile(r"^(\s*Description=)(.*)$")


def render_cell(cell_id: str, cell_type: str, source: str, translate: Translate) -> str:
    """The cell's source with every translatable unit passed through `translate`."""
    count = 0

    def unit(text: str) -> str:
        nonlocal count
        count += 1
        return translate(f"{cell_id}:{count}", text)

    if cell_type == "markdown":
        return "\n\n".join(_render_code(b, unit) if b.lstrip().startswith(FENCE) else unit(b) if _has_words(b) else b
                             for b in markdown_blocks(source))
    return _render_code(source, unit)


def _render_code(source: str, unit: Callable[[str], str]) -> str:
    """Code with its comment blocks and Description= values passed through `unit`."""
    lines, out, i = source.split("\n"), [], 0
    while i < len(lines):
        match = COMMENT.match(lines[i])
        described = DESCRIPTION.match(lines[i])
        if described is not None and _has_words(described.group(2)):
            out.append(described.group(1) + unit(described.group(2)))
            i += 1
            continue
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent, body = match.group(1), [match.group(2)]
        i += 1
        while i < len(lines) and (more := COMMENT.match(lines[i])) and more.group(1) == indent:
            body.append(more.group(2))
            i += 1
        text = "\n".join(body)
        text = unit(text) if _has_words(text) else text
        out.extend(f"{indent}# {line}".rstrip() for line in text.split("\n"))
    return "\n".join(out)


# -- building ---------------------------------------------------------------
def import_nbformat() -> Any:
    """nbformat (and so jupytext's), imported without jsonschema's IRI format checker.

    jsonschema imports rfc3987_syntax when it is installed (Jupyter's own packages bring it), and
    that module compiles some forty grammars as it loads: seconds of CPU on every build and check.
    No notebook schema uses the "iri" formats, so no validation changes; the block is lifted once
    jsonschema has looked, so a later import of rfc3987_syntax elsewhere still works."""
    block = "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules
    if block:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import fails: jsonschema skips it
    try:
        import nbformat
    finally:
        if block:
            del sys.modules["rfc3987_syntax"]
    return nbformat


_CELLS_UNVALIDATED = threading.Lock()


def _read_validated_once(jupytext: Any, nbformat: Any, path: Path) -> Any:
    """jupytext builds each cell with nbformat.v4's new_*_cell, which validates every cell against the
    whole schema on its own: half the time of reading a source.  The cells are made unvalidated and the
    notebook is validated once, as a whole, which checks the same cells."""
    from nbformat.v4 import nbbase

    with _CELLS_UNVALIDATED:  # one reader at a time swaps the module's function, and puts it back
        per_cell = nbbase.validate
        nbbase.validate = lambda node, ref=None: None
        try:
            notebook = jupytext.read(path)
        finally:
            nbbase.validate = per_cell
    nbformat.validate(notebook)
    return notebook


def _read_source(root: Path, book: Notebook) -> Any:
    nbformat = import_nbformat()
    import jupytext

    path = root / book.source
    if not path.exists():
        raise UsageError(M("notebooks.no_source", "The notebook source {path} is missing.", path=str(book.source)))
    notebook = _read_validated_once(jupytext, nbformat, path)
    notebook.cells = [c for c in notebook.cells if c.cell_type != "raw"]  # notes for authors, not built
    seen: set[str] = set()
    for n, cell in enumerate(notebook.cells, 1):
        cell_id = cell.metadata.get("id")
        # nbformat's rule for ids; it keeps "/" free, so "<name>/" prefixes never collide.
        if not isinstance(cell_id, str) or not CELL_ID.fullmatch(cell_id) or cell_id in seen:
            raise UsageError(M("notebooks.cell_id", "Cell {n} of {path} needs its own id=\"...\" in its metadata, "
                               "made of letters, digits, - and _ (missing, used twice or with other characters).",
                               n=n, path=str(book.source)))
        seen.add(cell_id)
    return notebook


def _units(book: Notebook, source: Any) -> list[tuple[str, str, str]]:
    """(context, English, source path) of every unit, in the order of the cells."""
    found: list[tuple[str, str, str]] = []

    def record(context: str, english: str) -> str:
        found.append((context, english, book.source.as_posix()))
        return english

    for cell in source.cells:
        render_cell(book.prefix + cell.metadata["id"], cell.cell_type, cell.source, record)
    return found


def _notebook_text(book: Notebook, source: Any, lang: str, translate: Translate) -> str:
    nbformat = import_nbformat()
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"},
                   "labkit": {"lab": book.lab, "lang": lang, "source": book.source.as_posix()}}
    for cell in source.cells:
        meta = {k: cell.metadata[k] for k in KEPT_METADATA if k in cell.metadata}
        text = render_cell(book.prefix + cell.metadata["id"], cell.cell_type, cell.source, translate)
        if "parameters" in meta.get("tags", ()):
            text = LANG_LINE.sub(f'lang = "{lang}"', text)
        # The cells nbformat.v4.new_*_cell would make, without validating each one on its own:
        # the whole notebook is validated once below.
        new = {"id": cell.metadata["id"], "cell_type": cell.cell_type, "metadata": meta, "source": text}
        if cell.cell_type != "markdown":
            new.update(cell_type="code", execution_count=None, outputs=[])
        nb.cells.append(nbformat.from_dict(new))
    nbformat.validate(nb)
    return nbformat.writes(nb).rstrip("\n") + "\n"


def _pot_text(units: list[tuple[str, str, str]]) -> str:
    import polib

    pot = polib.POFile(wrapwidth=78)
    pot.header = ("Translatable text of the labkit notebooks.\n"
                  f"Generated from {SOURCES.as_posix()}/*.md by `labkit notebooks build`: do not edit.\n"
                  "msgctxt is <cell id>:<n> in the first chapter's notebook, <notebook>/<cell id>:<n> in the\n"
                  "others: the n-th paragraph or comment block of that cell.")
    pot.metadata = {"Project-Id-Version": "labkit notebooks", "MIME-Version": "1.0",
                    "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit"}
    for context, english, source in units:
        pot.append(polib.POEntry(msgctxt=context, msgid=english, msgstr="", occurrences=[(source, "")]))
    return str(pot).rstrip("\n") + "\n"


def _french(root: Path) -> Translate:
    import polib

    path = root / PO
    entries = polib.pofile(str(path)) if path.exists() else []
    table = {(e.msgctxt, e.msgid): e.msgstr for e in entries
             if e.msgstr.strip() and not e.obsolete and "fuzzy" not in e.flags}
    return lambda context, english: table.get((context, english), english)


def expected(root: Path) -> dict[Path, str]:
    """What the builder writes, by path relative to the repository root."""
    french = _french(root)
    units: list[tuple[str, str, str]] = []
    written: dict[Path, str] = {}
    for book in notebooks(root):
        source = _read_source(root, book)
        units += _units(book, source)
        written[book.output("en")] = _notebook_text(book, source, "en", lambda _context, english: english)
        written[book.output("fr")] = _notebook_text(book, source, "fr", french)
    return {POT: _pot_text(units), **written}


def build(root: Path) -> list[Path]:
    written = []
    for relative, text in expected(root).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
