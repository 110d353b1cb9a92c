"""French typography: the rules, their literal exceptions, and the check on copies of labkit.po and the README."""
from __future__ import annotations

import shutil
from pathlib import Path

import polib
import pytest
from click.testing import CliRunner

from labkit.cli.main import main
from labkit.notebooks.catalogue import PLACEHOLDER, readme_problems, runtime_problems, typography_problems
from labkit.grading.render import html_text
from labkit.notebooks.typography import FRENCH_END, FRENCH_START, readme_passages, slips, term_slips

ROOT = Path(__file__).resolve().parents[2]
PO = Path("translations/fr/LC_MESSAGES/labkit.po")
NB, NNB = "\u00a0", "\u202f"


def rules(text: str) -> list[str]:
    return [slip.needs.key for slip in slips(text)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what `labkit notebooks check` reads, README included."""
    for folder in ("labkit", "notebooks", "translations"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    return tmp_path


# -- the rules ----------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    f"Lancez{NB}: rien.", f"Continuer{NB}?", f"Attention{NB}!", f"un{NB}; deux",
    f"Lancez «{NB}incus info{NB}» maintenant.", f"Lancez «{NNB}incus info{NNB}»{NNB}: voilà.",
    f"en {{seconds}}{NB}s.", f"à 3{NB}h du matin", f"{{count}} apprenants", "Étape 1",
])
def test_good_french_passes(text: str) -> None:
    assert slips(text) == []


@pytest.mark.parametrize("text, rule", [
    ("Lancez : rien.", "typography.punctuation"),        # ordinary space
    ("Lancez: rien.", "typography.punctuation"),         # no space at all
    ("Continuer ?", "typography.punctuation"),
    ("Continuer?", "typography.punctuation"),
    ("Attention !", "typography.punctuation"),
    ("un ; deux", "typography.punctuation"),
    ("**En français :**", "typography.punctuation"),
    (f"«{NB}labkit check{NB}»: voilà", "typography.punctuation"),
    ("`incus info`: voilà", "typography.punctuation"),
    (f"« incus info{NB}»", "typography.guillemets"),      # ordinary space inside
    (f"«incus info{NB}»", "typography.guillemets"),       # none
    (f"«{NB}incus info »", "typography.guillemets"),
    ("Lancez “incus info”.", "typography.quotes"),
    ('Lancez "incus info".', "typography.quotes"),
    ("en {seconds} s.", "typography.unit"),
    ("en {seconds} secondes", "typography.unit"),
    ("à 3 h du matin", "typography.unit"),
])
def test_each_slip_is_caught(text: str, rule: str) -> None:
    assert rule in rules(text)


@pytest.mark.parametrize("text", [
    "Voir https://linuxcontainers.org/incus/docs/main/ et http://127.0.0.1:8443/.",  # URLs
    "Tapez `incus info ubuntu-test | grep Snapshots:` puis `a ; b`.",               # code spans
    f"Créé à {{time}}{NB}: {{detail}}",                                           # placeholders
    "La réunion commence à 10:30 précises.",                                       # times
    "images:debian/12, --listen ADRESSE:PORT, 0.0.0.0:8443, SERVEUR:ALIAS",       # colons inside names
    f"«{NB}unknown command \"restore\" for \"incus\"{NB}» et «{NB}a; b: c{NB}»",     # literal inside « »
    "son propre id=\"...\" dans ses métadonnées",                                 # key="value"
    "✔ réussie   ✘ échouée   ? non vérifiée",                                     # the verdict symbol
    f"Dans un terminal{NB}:\n\n    export INCUS_CONF=\"$PWD\"\n    incus list ; incus info\n",  # indented code
    f"Avant{NB}:\n\n```sh\nincus snapshot list ubuntu-test ; echo \"ok\"\n```\n",  # fenced code
    "à {container} s’est arrêtée",                                                # placeholder then “s’”
])
def test_literal_parts_are_not_french_prose(text: str) -> None:
    assert slips(text) == [], rules(text)


def test_a_slip_quotes_the_original_text() -> None:
    (slip,) = slips("Le TP a été préparé en {seconds} s, bravo.")
    assert "{seconds} s" in slip.excerpt


def test_doubled_braces_are_literal_not_placeholders() -> None:
    assert PLACEHOLDER.findall("the same {{placeholders}} as {file}") == ["{file}"]


def test_commands_in_french_quotes_become_code_with_either_no_break_space() -> None:
    for space in (NB, NNB):
        html = html_text(f"Lancez «{space}incus stop ubuntu-test{space}».")
        assert "<code" in html and ">incus stop ubuntu-test</code>" in html, space


# -- the README's French passages -------------------------------------------------------
def test_readme_passages_are_marked_and_unmarked_french_is_found() -> None:
    text = (f"# Title\n\nEnglish text: fine.\n\n{FRENCH_START}\n**Français.** Un texte{NB}: juste.\n{FRENCH_END}\n\n"
            "Un paragraphe pour vous, avec des mots français.\n\n```sh\n# « commentaire » dans du code\n```\n")
    passages = readme_passages(text)
    assert [(p.line, p.marked) for p in passages] == [(6, True), (9, False)]
    assert passages[0].text == f"**Français.** Un texte{NB}: juste."


def test_english_mentioning_guillemets_in_code_is_not_french() -> None:
    assert readme_passages("Write `« »` with no-break spaces; the CSV uses “;” in French.\n") == []


# -- the check on copies of the real files ----------------------------------------------
def test_untouched_copy_passes(repo: Path) -> None:
    assert [m.render("en") for m in runtime_problems(repo)] == []


def test_a_broken_labkit_po_entry_fails_the_check(repo: Path) -> None:
    po = polib.pofile(str(repo / PO))
    entry = next(e for e in po if e.msgctxt == "cli.reset.done")
    assert f"{NB}:" in entry.msgstr
    entry.msgstr = entry.msgstr.replace(f"{NB}:", " :", 1)
    po.save()
    found = typography_problems(repo / PO)
    assert [(m.key, m.params["key"]) for m in found] == [("catalogue.typography", "cli.reset.done")]
    assert found[0].params["rule"].key == "typography.punctuation"
    assert "catalogue.typography" in [m.key for m in runtime_problems(repo)]


def test_a_broken_readme_line_fails_the_check_with_its_line_number(repo: Path) -> None:
    readme = repo / "README.md"
    lines = readme.read_text(encoding="utf-8").split("\n")
    n = next(i for i, line in enumerate(lines) if line.startswith("**En français"))
    lines[n] = lines[n].replace(NB, " ")
    readme.write_text("\n".join(lines), encoding="utf-8")
    found = readme_problems(readme)
    assert [(m.key, m.params["line"]) for m in found] == [("readme.typography", n + 1)]
    done = CliRunner().invoke(main, ["--lang", "en", "notebooks", "check", "--root", str(repo)])
    assert done.exit_code == 1 and f"README.md, line {n + 1}" in done.stderr


def test_unmarked_french_in_the_readme_fails_the_check(repo: Path) -> None:
    readme = repo / "README.md"
    text = readme.read_text(encoding="utf-8").replace(FRENCH_START + "\n**Français.**", "**Français.**", 1)
    readme.write_text(text, encoding="utf-8")
    assert "readme.unmarked_french" in [m.key for m in readme_problems(readme)]


def test_the_readme_has_french_passages_and_they_pass() -> None:
    passages = readme_passages((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len([p for p in passages if p.marked]) >= 2 and all(p.marked for p in passages)
    assert readme_problems(ROOT / "README.md") == []


# -- one term each ------------------------------------------------------------------------
@pytest.mark.parametrize("text, term", [
    ("est marquée fuzzy", "approximative"),
    ("(remote « {remote} » de {conf})", "serveur distant"),
    ("les mêmes {{placeholders}} que l’anglais", "ce que la variable désigne, sans {{…}}"),
    ("un conteneur en marche", "en cours d’exécution"),
    ("Tant que le conteneur tourne,", "en cours d’exécution"),
    ("Aucun enregistreur ne tournait pour {container}.", "en cours d’exécution"),
    ("tant que ses preuves étaient présentes", "traces"),
    ("puis relancez l’installation.", "labkit setup"),
    ("demandez à votre formateur", "le formateur ou la formatrice"),
    ("Pour l’équipe enseignante", "le formateur ou la formatrice"),
    (f"«{NB}labkit check STEP{NB}»", "ÉTAPE, SERVEUR, ADRESSE, FICHIER, NOM…"),
])
def test_words_that_stray_from_the_glossary_are_caught(text: str, term: str) -> None:
    assert term in [t for _, t, _ in term_slips(text)]


@pytest.mark.parametrize("text", [
    "le formateur ou la formatrice", "Votre formateur ou votre formatrice doit",
    "demandez à votre formateur ou à votre formatrice",
    "auprès de votre formateur ou de votre formatrice", "au formateur ou à la formatrice",
    "    incus remote add {remote} https://{address}\n", f"«{NB}incus remote list{NB}»", "servercerts/{remote}.crt",
    "L’installation de {packages} a échoué", "--listen ADRESSE:PORT", "en cours d’exécution",
])
def test_the_glossary_s_own_words_and_commands_pass(text: str) -> None:
    assert term_slips(text) == []


def test_a_labkit_po_entry_off_the_glossary_fails_the_check(repo: Path) -> None:
    po = polib.pofile(str(repo / PO))
    entry = next(e for e in po if e.msgctxt == "doctor.access.untrusted")
    entry.msgstr = entry.msgstr.replace("votre formateur ou votre formatrice", "votre formateur")
    po.save()
    found = typography_problems(repo / PO)
    assert [(m.key, m.params["where"], m.params["word"]) for m in found] == [
        ("catalogue.term", "labkit.po:doctor.access.untrusted", "formateur")]
