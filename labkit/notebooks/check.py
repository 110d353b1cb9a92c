"""`labkit notebooks check`: the committed notebooks and the French catalogue, against the sources.

Every notebook and the template must be byte for byte what `build.py` makes of the
sources; the French catalogue complete, current, typographically French, with the same
`code` as the English; and the two languages of a notebook must run the same code.
"""
from __future__ import annotations

import io
import tempfile
import tokenize
from pathlib import Path
from typing import Any

from ..i18n import M, Message
from .build import (
    CODE_SPAN,
    COMMENT,
    LANG_LINE,
    LANGUAGES,
    PO,
    POT,
    SOURCES,
    Notebook,
    expected,
    import_nbformat,
    notebooks,
)
from .catalogue import catalogue_problems, typography_problems


def strip_comments(source: str) -> str:
    """Code without comments or blank lines: what must be equal in both languages."""
    if source.lstrip().startswith("%%"):
        lines = [line for line in source.split("\n") if not line.lstrip().startswith("#")]
    else:
        try:
            tokens = [t for t in tokenize.generate_tokens(io.StringIO(source + "\n").readline)
                      if t.type != tokenize.COMMENT]
            lines = tokenize.untokenize(tokens).split("\n")
        except (tokenize.TokenError, SyntaxError, ValueError):
            lines = [COMMENT.sub("", line) if COMMENT.match(line) else line for line in source.split("\n")]
    return "\n".join(line.rstrip() for line in lines if line.strip())


def code_signature(notebook: Any) -> list[tuple[str, str]]:
    """(cell id, code) of every code cell, comments stripped, the `lang = ...` value ignored."""
    signature = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        code = strip_comments(cell.source)
        if "parameters" in cell.metadata.get("tags", ()):
            code = LANG_LINE.sub("lang = ...", code)
        signature.append((cell.get("id", "?"), code))
    return signature


def _code_problems(root: Path, book: Notebook) -> list[Message]:
    nbformat = import_nbformat()
    books = {}
    for lang in LANGUAGES:
        try:
            books[lang] = nbformat.reads((root / book.output(lang)).read_text(encoding="utf-8"), as_version=4)
        except Exception:  # missing or unreadable: reported as drift already
            return []
    en, fr = code_signature(books["en"]), code_signature(books["fr"])
    for n in range(max(len(en), len(fr))):
        if n >= len(en) or n >= len(fr) or en[n] != fr[n]:
            cell = book.prefix + (en[n] if n < len(en) else fr[n])[0]
            return [M("notebooks.code_differs", "The code of cell “{cell}” differs between the English and French "
                                                "notebooks (comments and the lang value aside): the two languages "
                                                "must run the same code.", cell=cell)]
    return []


def _translation_problems(root: Path) -> list[Message]:
    """Inline code stays literal, and the French follows French typography."""
    import polib

    found = []
    for entry in polib.pofile(str(root / PO)):
        if entry.obsolete or not entry.msgstr.strip():
            continue
        if sorted(CODE_SPAN.findall(entry.msgid)) != sorted(CODE_SPAN.findall(entry.msgstr)):
            found.append(M("notebooks.code_spans", "notebooks.po: the French text of “{key}” does not keep the same "
                                                   "`code` as the English (commands and names stay literal).",
                           key=entry.msgctxt))
    return found + typography_problems(root / PO)


def problems(root: Path) -> list[Message]:
    """Everything that makes the committed notebooks or the French catalogue wrong."""
    want = expected(root)
    books = notebooks(root)
    sources = {book.output(lang): book.source.as_posix() for book in books for lang in LANGUAGES}
    found: list[Message] = []
    for relative, text in want.items():
        path = root / relative
        if not path.exists():
            found.append(M("notebooks.missing", "{path} is missing: run “labkit notebooks build”.",
                           path=relative.as_posix()))
        elif path.read_text(encoding="utf-8") != text:
            found.append(M("notebooks.stale", "{path} differs from what the builder makes of {source}: edit the source "
                                              "or the French catalogue, then run “labkit notebooks build”.",
                           path=relative.as_posix(), source=sources.get(relative, f"{SOURCES.as_posix()}/*.md")))
    if not (root / PO).exists():
        found.append(M("notebooks.no_catalogue", "{path} is missing: create it with "
                                                 "“pybabel init -D notebooks -i {pot} -d translations -l fr”.",
                       path=PO.as_posix(), pot=POT.as_posix()))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            pot = Path(tmp) / POT.name
            pot.write_text(want[POT], encoding="utf-8")
            found += catalogue_problems(pot, root / PO)
        found += _translation_problems(root)
    return found + [problem for book in books for problem in _code_problems(root, book)]
