"""Messages and catalogues: complete in both languages, French typography, no drift."""
from __future__ import annotations

from pathlib import Path

import polib
import pytest

from labkit.errors import UsageError
from labkit.i18n import M, Number, default_language, translate
from labkit.notebooks.catalogue import catalogue_problems, runtime_problems, typography_problems

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "translations" / "fr" / "LC_MESSAGES" / "labkit.po"
POT = ROOT / "translations" / "labkit.pot"


def test_language_comes_from_the_locale() -> None:
    assert default_language({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert default_language({"LC_ALL": "fr_CA.UTF-8", "LANG": "en_US.UTF-8"}) == "fr"
    assert default_language({"LANG": "de_DE.UTF-8"}) == "en"
    assert default_language({}) == "en"


def test_runtime_catalogue_is_complete_current_and_compiled() -> None:
    problems = runtime_problems(ROOT)
    assert problems == [], [p.render("en") for p in problems]


def test_french_follows_french_typography() -> None:
    problems = typography_problems(PO)  # the rules and their exceptions: tests/unit/test_typography.py
    assert problems == [], [p.render("en") for p in problems]


def test_translations_are_used_at_run_time_with_parameters() -> None:
    message = M("snap.stop.running", "The instance “{container}” is still running.", container="c1")
    assert translate(message, "en") == "The instance “c1” is still running."
    french = translate(message, "fr")
    assert "c1" in french and french != translate(message, "en") and "«" in french


def test_a_missing_french_entry_is_reported(tmp_path: Path) -> None:
    po = polib.pofile(str(PO))
    po[3].msgstr = ""
    po[4].flags.append("fuzzy")
    po[5].msgstr = po[5].msgid
    broken = tmp_path / "labkit.po"
    po.save(str(broken))
    keys = [p.params["key"] for p in catalogue_problems(POT, broken)]
    assert po[3].msgctxt in keys and po[4].msgctxt in keys and po[5].msgctxt in keys


def test_decimal_numbers_take_the_language_s_decimal_mark() -> None:
    done = M("setup.done", "The lab is ready in {seconds} s: check it with “labkit doctor”, then open the notebook.",
             seconds=Number(56.74))
    assert "56.7 s" in translate(done, "en")
    assert "56,7\u00a0s" in translate(done, "fr") and "56.7" not in translate(done, "fr")


def test_a_message_babel_would_skip_is_an_error_that_names_its_place(tmp_path: Path) -> None:
    from labkit.notebooks import catalogue

    package = tmp_path / "planted"
    package.mkdir()
    named = 'detail = f"{kind}: {exc}"\nM("x.failed", "{detail}", detail=detail)\n'
    (package / "fine.py").write_text(named, encoding="utf-8")
    assert catalogue.extracted_messages(package) == {("x.failed", "{detail}")}
    (package / "slip.py").write_text('\n\nM("y.failed", "{detail}", detail=f"{kind}: {exc}")\n', encoding="utf-8")
    with pytest.raises(UsageError) as raised:
        catalogue.extracted_messages(package)
    assert "slip.py:3" in raised.value.message.render("en") and "f-string" in raised.value.message.render("en")
    assert "f-string" in raised.value.message.render("fr")
