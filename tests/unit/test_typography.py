"""French typography: the rules, their literal exceptions, and the check on copies of labkit.po and the README."""
from __future__ import annotations

import shutil
from pathlib import Path

import polib
import pytest
from click.testing import CliRunner

from labkit.cli.main import main
from labkit.grading.render import html_text
from labkit.notebooks.catalogue import (
    french_document_problems,
    readme_problems,
    runtime_problems,
    typography_problems,
)
from labkit.notebooks.typography import (
    AGREEMENT,
    FRENCH_END,
    FRENCH_START,
    LOG,
    PLACEHOLDER,
    REFRESH,
    TIME,
    readme_passages,
    slips,
    term_slips,
)

ROOT = Path(__file__).resolve().parents[2]
PO = Path("translations/fr/LC_MESSAGES/labkit.po")
NB, NNB = "\u00a0", "\u202f"


def rules(text: str) -> list[str]:
    return [slip.needs.key for slip in slips(text)]


@pytest.fixture
def repo(tmp_path: Path, package_copy: Path) -> Path:
    """A copy of what `labkit notebooks check` reads, README included (labkit/, which no test here
    writes, is the session's one copy: tests/unit/conftest.py)."""
    (tmp_path / "labkit").symlink_to(package_copy, target_is_directory=True)
    for folder in ("notebooks", "translations"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("*.png"))
    return tmp_path


# -- the rules ----------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    f"Lancez{NB}: rien.", f"Continuer{NB}?", f"Attention{NB}!", f"un{NB}; deux",
    f"Lancez «{NB}incus info{NB}» maintenant.", f"Lancez «{NNB}incus info{NNB}»{NNB}: voilà.",
    f"en {{seconds}}{NB}s.", f"à 3{NB}h du matin", "{count} apprenants", "Étape 1",
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


# -- one word per concept: each kind of slip the French review found comes back as a failure --------
def terms(text: str, english: str | None = None) -> list[str]:
    return [term for _, term, _ in term_slips(text, english)]


@pytest.mark.parametrize("french, english, term", [
    # refresh: « actualiser », never « mettre à jour » (which is a package update)
    ("Ensuite, mettez la copie à jour.", "Then refresh the copy.", REFRESH),
    ("Une mise à jour fait de la copie un miroir.", "A refresh makes the copy a mirror.", REFRESH),
    ("## Étape 8 : rafraîchir la copie", "## Step 8: refresh the copy", REFRESH),  # no « actualiser » at all
    ("puis met la copie à jour avec `incus copy --refresh`", None, REFRESH),  # French alone: next to « copie »
    # a log is a « fichier journal »; a bare « journal » is the learner's journal or a log, unsaid
    ("Son journal se trouve dans son dossier.", "Its log is in its folder.", LOG),
    ("consultez le journal du démon", None, LOG),
    # a plural after a count that may be 1
    (f"{{step}}{NB}: {{count}} apprenants sur {{total}}", "{step}: {count} of {total} learners", AGREEMENT),
    ("1 apprenants sur 30", None, AGREEMENT),
    ("dans un délai de {seconds} secondes.", "within {seconds} seconds.", AGREEMENT),
    # a time of day outside code
    (f"Chaque jour à 20:50{NB}:", "Every day at 20:50:", TIME),
    ("le 2 janvier 2006 à 15:04:05.", None, TIME),
])
def test_each_kind_of_concept_slip_is_caught(french: str, english: str | None, term: str) -> None:
    assert term in terms(french, english)


@pytest.mark.parametrize("french, english", [
    ("Ensuite, actualisez la copie.", "Then refresh the copy."),
    ("avant une mise à jour de paquets", "before a package update"),  # an update stays « mise à jour »
    ("et tenir cette copie à jour.", "and keep that copy up to date."),
    ("Lancez « incus copy --refresh » puis « incus config set ».",
     "Run “incus copy --refresh”, then “incus config set”."),
    ("Son fichier journal est {log}.", "Its log is {log}."),
    (f"Événements dans votre journal de progression{NB}: {{count}}.", "Your journal holds {count} events."),
    (f"{{step}}{NB}: {{count}} sur {{total}} dans la classe", "{step}: {count} of {total} learners"),
    (f"Apprenants prêts{NB}: {{ready}}.", "{ready} learners are ready."),
    (f"en {{seconds}}{NB}s", "in {seconds} s"), ("1 fois, {count} processus", None),
    (f"Chaque jour à 20{NB}h{NB}50{NB}:", "Every day at 20:50:"),
    ("`OnCalendar=*-*-* 21:00:00` et 127.0.0.1:8443, « 21:00 »", None),
])
def test_the_right_word_for_each_concept_passes(french: str, english: str | None) -> None:
    assert terms(french, english) == []


def test_a_message_never_used_for_one_may_be_plural() -> None:
    assert term_slips("{count} apprenants", "{count} learners", never_one=True) == []


@pytest.mark.parametrize("key, old_french, term", [
    ("class.status.common", "{step}\u00a0: {count} apprenants sur {total} — {message}", AGREEMENT),
    ("snapshot_server.token_failed", "Le serveur d’instantanés a refusé de créer un jeton de "
                                     "confiance (HTTP {code}). Son journal se trouve dans son dossier.", LOG),
])
def test_a_reintroduced_slip_in_labkit_po_fails_the_check(repo: Path, key: str, old_french: str, term: str) -> None:
    po = polib.pofile(str(repo / PO))
    next(e for e in po if e.msgctxt == key).msgstr = old_french
    po.save()
    found = [(m.params["where"], m.params["term"]) for m in typography_problems(repo / PO) if m.key == "catalogue.term"]
    assert found == [(f"labkit.po:{key}", term)]


NB_PO = Path("translations/fr/LC_MESSAGES/notebooks.po")


@pytest.mark.parametrize("key, old, new, term", [
    ("snapshot-server/refresh-explain:3", "Ensuite, actualisez la copie.", "Ensuite, mettez la copie à jour.", REFRESH),
    ("snapshot-server/schedule-explain:2", f"Chaque jour à 20{NB}h{NB}50{NB}:", f"Chaque jour à 20:50{NB}:", TIME),
])
def test_a_reintroduced_slip_in_notebooks_po_fails_the_check(
        repo: Path, key: str, old: str, new: str, term: str) -> None:
    from labkit.notebooks.check import problems

    po = polib.pofile(str(repo / NB_PO))
    entry = next(e for e in po if e.msgctxt == key)
    assert old in entry.msgstr
    entry.msgstr = entry.msgstr.replace(old, new)
    po.save()
    found = [(m.params["where"], m.params["term"]) for m in problems(repo) if m.key == "catalogue.term"]
    assert (f"notebooks.po:{key}", term) in found


# -- every French notebook paragraph and code comment comes from the catalogue ------------------
def test_text_inside_fenced_blocks_and_punctuation_lines_are_units() -> None:
    from labkit.notebooks.build import render_cell

    seen: list[str] = []
    source = ("With systemd:\n\n```ini\n[Unit]\nDescription=Refresh the copy\n```\n\n`/etc/x.timer`:\n\n"
              "```sh\n#!/bin/sh\n# refresh it every night\nincus copy --refresh a b\n```\n\n`incus list`")
    out = render_cell("c", "markdown", source, lambda ctx, english: seen.append(english) or f"FR[{english}]")
    assert seen == ["With systemd:", "Refresh the copy", "`/etc/x.timer`:", "refresh it every night"]
    assert "Description=FR[Refresh the copy]" in out and "#!/bin/sh" in out and "\n\n`incus list`" in out


def test_a_notebook_unit_missing_from_the_catalogue_fails_the_check(repo: Path) -> None:
    from labkit.notebooks.check import problems

    po = polib.pofile(str(repo / NB_PO))
    description = next(e for e in po if e.msgid == "Refresh the snapshot server every day at 21:00")
    filename = next(e for e in po if e.msgid.endswith("refresh-snapshot-server.timer`:"))
    po.remove(description)
    po.remove(filename)
    po.save()
    missing = {m.params["key"] for m in problems(repo) if m.key == "catalogue.missing"}
    assert {description.msgctxt, filename.msgctxt} <= missing


def test_the_shortened_copy_hint_fits_a_glance() -> None:
    from labkit.i18n import M

    english = next(e.msgid for e in polib.pofile(str(ROOT / "translations/labkit.pot"))
                   if e.msgctxt == "snapsrv.copy.not_seen.how")
    hint = M("snapsrv.copy.not_seen.how", english, remote="incus-snapshot", container="ubuntu-test",
             snapshot="ubuntu-test-1")
    assert all(len(hint.render(lang)) <= 320 for lang in ("en", "fr")), \
        [len(hint.render(lang)) for lang in ("en", "fr")]


# -- the trainer's guides ---------------------------------------------------------------------
GUIDE = Path("docs/guide-formateur.md")


def test_both_guides_are_linked_from_the_readme_and_pass() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/trainers-guide.md)" in readme and "(docs/guide-formateur.md)" in readme
    assert french_document_problems(ROOT / GUIDE) == [] and readme_problems(ROOT / "docs/trainers-guide.md") == []


@pytest.mark.parametrize("old, new, key", [
    ("dans un terminal, `labkit hint copy`.", "dans un terminal{NB}: labkit hint copy.", "readme.typography"),
    ("actualisée toutes les quelques secondes", "mise à jour toutes les quelques secondes par copie", "catalogue.term"),
    ("les journaux de progression disparaissent", "les journaux disparaissent", "catalogue.term"),
    ("Son identifiant ne change pas.", "Son identifiant ne change pas avant 20:50.", "catalogue.term"),
    ("Chaque apprenant reçoit son propre projet", "1 apprenants reçoit son propre projet", "catalogue.term"),
])
def test_a_slip_in_the_french_guide_fails_the_check_with_its_line(repo: Path, old: str, new: str, key: str) -> None:
    guide = repo / GUIDE
    text = guide.read_text(encoding="utf-8")
    assert old in text
    guide.write_text(text.replace(old, new.replace("{NB}", " ")), encoding="utf-8")
    line = text[:text.index(old)].count("\n") + 1
    found = [m for m in runtime_problems(repo) if m.key == key]
    assert found and all(str(line) in str(m.params.get("line", m.params.get("where"))) for m in found)


def test_french_in_the_english_guide_must_be_marked(repo: Path) -> None:
    guide = repo / "docs/trainers-guide.md"
    guide.write_text(guide.read_text(encoding="utf-8") + "\nVous lancez « labkit class create » pour une classe.\n",
                     encoding="utf-8")
    assert "readme.unmarked_french" in [m.key for m in runtime_problems(repo)]
