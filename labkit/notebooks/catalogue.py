"""Checks on the gettext catalogues: French must be complete, current and really translated."""
from __future__ import annotations

import contextlib
import io
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..i18n import M, Message
from .typography import PLACEHOLDER, Passage, line_of, readme_passages, slips, term_slips


def _catalogue(path: Path) -> Any:
    """polib's reading of a .po or .pot file, made once for the same text: runtime_problems reads
    the template three times and the French catalogue three times. Callers only read it."""
    return _parsed(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=8)
def _parsed(text: str) -> Any:
    import polib

    return polib.pofile(text)


def catalogue_problems(pot_path: Path, po_path: Path, identical_ok: frozenset[str] = frozenset()) -> list[Message]:
    """Every template entry must have a French, non-fuzzy, non-copied translation with the same placeholders."""
    pot, po = _catalogue(pot_path), _catalogue(po_path)
    translations = {(e.msgctxt, e.msgid): e for e in po if not e.obsolete}
    problems: list[Message] = []
    name = po_path.name
    for entry in pot:
        key = entry.msgctxt or entry.msgid[:40]
        found = translations.get((entry.msgctxt, entry.msgid))
        if found is None or not found.msgstr.strip():
            problems.append(M("catalogue.missing", "{file}: no French translation for “{key}”.", file=name, key=key))
        elif "fuzzy" in found.flags:
            problems.append(M("catalogue.fuzzy", "{file}: the French translation of “{key}” is marked fuzzy "
                                                 "(its English changed): review it.", file=name, key=key))
        elif (found.msgstr == entry.msgid and key not in identical_ok
              and any(ch.isalpha() for ch in PLACEHOLDER.sub("", entry.msgid))):
            problems.append(M("catalogue.untranslated", "{file}: the French text of “{key}” is a copy of the English.",
                              file=name, key=key))
        elif _fields(found.msgstr) != _fields(entry.msgid):
            problems.append(M("catalogue.placeholders", "{file}: the French text of “{key}” does not use the same "
                                                        "{{placeholders}} as the English.", file=name, key=key))
    return problems


# A placeholder's name, with or without a conversion: click's own {name!r} may become « {name} ».
FIELD = re.compile(r"(?<!\{)\{([a-z_]+)(?:![rsa])?\}(?!\})")


def _fields(text: str) -> list[str]:
    return sorted(FIELD.findall(text))


def key_conflicts(pot_path: Path) -> list[Message]:
    """One key, one English text: a key reused for another sentence would share its translation."""
    seen: dict[str, str] = {}
    problems: list[Message] = []
    for entry in _catalogue(pot_path):
        if entry.msgctxt in seen and seen[entry.msgctxt] != entry.msgid:
            problems.append(M("catalogue.key_conflict", "The message key “{key}” is used for two different "
                                                        "English texts.", key=entry.msgctxt))
        seen.setdefault(entry.msgctxt, entry.msgid)
    return problems


# Words that are the same in both languages; every other copy of the English is a miss.
SAME_IN_FRENCH = frozenset({"report.points", "setup.phase.image", "lab.hint.solution", "class.status.score",
                            "class.report.score", "cli.usage.options", "click.options"})


def extracted_messages(package_dir: Path) -> set[tuple[str | None, str]]:
    """Every M(key, english) in the code, as Babel's extractor sees it.

    Babel skips an M(...) call that holds an f-string with substitutions, even in a keyword argument,
    and only says so on stderr: the message would then be missing from the catalogue for a reason
    nobody reads.  That warning is made an error naming each place; Babel's others pass through."""
    from babel.messages.extract import extract_from_dir

    found = set()
    with contextlib.redirect_stderr(io.StringIO()) as said:
        for _file, _line, message, _comments, context in extract_from_dir(
                str(package_dir), method_map=[("**.py", "python")], keywords={"M": ((1, "c"), 2)}):
            found.add((context, message))
    places = []
    for line in said.getvalue().splitlines():
        if "warning: Skipping f-string" in line:
            places.append(line.split(": warning:")[0])
        else:
            print(line, file=sys.stderr)  # Babel's other words, as it said them
    if places:
        raise UsageError(M("catalogue.fstring", "Babel cannot extract a message that holds an f-string with "
                                                "substitutions: give the value a name first, then pass the name "
                                                "({places}).", places=", ".join(places[:5])))
    return found


def extraction_problems(package_dir: Path, pot_path: Path) -> list[Message]:
    in_pot = {(e.msgctxt, e.msgid) for e in _catalogue(pot_path)}
    in_code = extracted_messages(package_dir)
    problems = [M("catalogue.not_extracted", "The message “{key}” is in the code but not in {file}: "
                                             "run “make translations”.", key=ctx or msgid[:40], file=pot_path.name)
                for ctx, msgid in sorted(in_code - in_pot, key=str)]
    problems += [M("catalogue.stale", "The message “{key}” is in {file} but no longer in the code: "
                                      "run “make translations”.", key=ctx or msgid[:40], file=pot_path.name)
                 for ctx, msgid in sorted(in_pot - in_code, key=str)]
    return problems


def compiled_problems(po_path: Path, mo_path: Path) -> list[Message]:
    """The compiled catalogue shipped in the package must say what the .po says."""
    import polib

    if not mo_path.exists():
        return [M("catalogue.not_compiled", "{file} is missing: run “make translations”.", file=str(mo_path))]
    wanted = {(e.msgctxt, e.msgid): e.msgstr for e in _catalogue(po_path) if e.translated() and not e.obsolete}
    shipped = {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(mo_path)) if e.msgid}
    if wanted != shipped:
        return [M("catalogue.compiled_stale", "{file} does not match {po}: run “make translations”.",
                  file=str(mo_path), po=po_path.name)]
    return []


# A translator's comment that lifts the agreement rule from a message the code never uses for one
# (it has a singular message of its own).
NEVER_ONE = "never 1:"


def typography_problems(po_path: Path) -> list[Message]:
    """Every French text of a catalogue follows French typography and the glossary (labkit/notebooks/typography.py)."""
    found: list[Message] = []
    for entry in _catalogue(po_path):
        if entry.obsolete or not entry.msgstr.strip():
            continue
        key = entry.msgctxt or entry.msgid[:40]
        found += [M("catalogue.typography", "{file}: the French text of “{key}” needs {rule} (here: “…{excerpt}…”).",
                    file=po_path.name, key=key, rule=slip.needs, excerpt=slip.excerpt) for slip in slips(entry.msgstr)]
        found += [_off_glossary(f"{po_path.name}:{key}", word, term)
                  for word, term, _ in term_slips(entry.msgstr, entry.msgid, NEVER_ONE in entry.tcomment)]
    return found


def _off_glossary(where: str, word: str, term: str) -> Message:
    """`where` is file:key or file:line."""
    return M("catalogue.term", "{where}: the French text says “{word}” where the glossary says “{term}”.",
             where=where, word=word, term=term)


def readme_problems(readme: Path) -> list[Message]:
    """The README's French passages follow French typography, and no French paragraph goes unmarked.

    The same holds for any English document with French passages (docs/trainers-guide.md)."""
    if not readme.exists():
        return []
    found: list[Message] = []
    for passage in readme_passages(readme.read_text(encoding="utf-8")):
        found += _passage_problems(readme.name, passage) if passage.marked else [_unmarked(readme.name, passage)]
    return found


def french_document_problems(document: Path) -> list[Message]:
    """A document written in French (docs/guide-formateur.md) is one French passage, code aside."""
    if not document.exists():
        return []
    return _passage_problems(document.name, Passage(1, document.read_text(encoding="utf-8"), True))


def _passage_problems(name: str, passage: Passage) -> list[Message]:
    found = [M("readme.typography", "{file}, line {line}: the French text needs {rule} (here: “…{excerpt}…”).",
               file=name, line=line_of(passage, slip.offset), rule=slip.needs, excerpt=slip.excerpt)
             for slip in slips(passage.text)]
    return found + [_off_glossary(f"{name}:{line_of(passage, offset)}", word, term)
                    for word, term, offset in term_slips(passage.text)]


def _unmarked(name: str, passage: Passage) -> Message:
    return M("readme.unmarked_french", "{file}, line {line}: this paragraph looks French but is not marked, so its "
             "typography goes unchecked. Put French between <!-- fr --> and <!-- /fr -->, and literal « » in `code`.",
             file=name, line=passage.line)


# Documents beside the README: English ones may hold marked French passages; French ones are French throughout.
ENGLISH_DOCUMENTS = (Path("docs/trainers-guide.md"), Path("docs/learners.md"), Path("docs/classes.md"),
                     Path("docs/contributing.md"))
FRENCH_DOCUMENTS = (Path("docs/guide-formateur.md"),)


def runtime_problems(root: Path) -> list[Message]:
    pot = root / "translations" / "labkit.pot"
    po = root / "translations" / "fr" / "LC_MESSAGES" / "labkit.po"
    mo = root / "labkit" / "locale" / "fr" / "LC_MESSAGES" / "labkit.mo"
    return (extraction_problems(root / "labkit", pot) + key_conflicts(pot)
            + catalogue_problems(pot, po, SAME_IN_FRENCH) + compiled_problems(po, mo)
            + typography_problems(po) + readme_problems(root / "README.md")
            + sum((readme_problems(root / path) for path in ENGLISH_DOCUMENTS), [])
            + sum((french_document_problems(root / path) for path in FRENCH_DOCUMENTS), []))
