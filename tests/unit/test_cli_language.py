"""labkit's own help, usage errors and yes/no prompts speak the user's language (click's words included)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from labkit.cli import localized
from labkit.cli import main as cli_main
from labkit.i18n import M

NB = "\u00a0"
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, lang_env: str = "C.UTF-8", input: str | None = None):
    return CliRunner().invoke(cli_main.main, list(args), input=input, prog_name="labkit",
                              env={"LANG": lang_env, "LC_ALL": None, "LC_MESSAGES": None})


# -- help ------------------------------------------------------------------------------------
def test_the_main_help_in_french() -> None:
    out = run("--lang", "fr", "--help").output
    assert out.startswith(f"Utilisation{NB}: labkit [OPTIONS] COMMANDE [ARGUMENTS]...")
    for text in (f"Options{NB}:", f"Commandes{NB}:", "Affiche cette aide et quitte.", "Langue des messages",
                 f"[par défaut{NB}:", "--container TEXTE", "Note les étapes données"):
        assert text in out, text
    assert "Show this message" not in out and "Usage:" not in out


def test_the_main_help_in_english() -> None:
    out = run("--lang", "en", "--help").output
    assert out.startswith("Usage: labkit [OPTIONS] COMMAND [ARGS]...")
    for text in ("Options:", "Commands:", "Show this message and exit.", "Language of messages", "[default:",
                 "--container TEXT", "Grade the given steps"):
        assert text in out, text


def test_the_environment_s_language_is_the_default_and_each_command_line_starts_afresh() -> None:
    assert "Affiche cette aide" in run("--help", lang_env="fr_FR.UTF-8").output
    assert "Show this message" in run("--help").output  # the French run before leaves nothing behind
    assert "Show this message" in run("--lang", "en", "--help", lang_env="fr_FR.UTF-8").output


@pytest.mark.parametrize("lang, texts", [
    ("fr", [f"Utilisation{NB}: labkit class create [OPTIONS] NOM", "Nombre d’apprenants", "--learners ENTIER",
            "--roster FICHIER", "Crée une classe"]),
    ("en", ["Usage: labkit class create [OPTIONS] NAME", "Number of learners", "--learners INTEGER",
            "--roster FILE", "Create a class"]),
])
def test_a_subcommand_s_help(lang: str, texts: list[str]) -> None:
    out = run("--lang", lang, "class", "create", "--help").output
    for text in texts:
        assert text in out, text


def test_every_help_text_and_command_is_a_message() -> None:
    """A help written as a plain string would stay English in a French class."""
    import click

    def walk(command: click.Command, path: str):
        yield path, command._help if isinstance(command, localized.Command) else command.help
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                yield f"{path} {param.opts[0]}", getattr(param, "_help", param.help)
            elif isinstance(param, click.Argument):  # its metavar is the usage line's word: NOM, ÉTAPE
                yield f"{path} {param.name}", getattr(param, "_metavar", param.metavar)
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    plain = [where for where, help_text in walk(cli_main.main, "labkit")
             if not isinstance(help_text, type(M("k", "e")))]
    assert plain == []


# -- usage errors ----------------------------------------------------------------------------
def test_a_usage_error_in_french() -> None:
    done = run("--lang", "fr", "chek")
    assert done.exit_code == 2
    assert f"Erreur{NB}: la commande «{NB}chek{NB}» n’existe pas." in done.output
    assert f"Pour l’aide{NB}: «{NB}labkit --help{NB}»." in done.output
    bad = run("--lang", "fr", "class", "create", "--learners", "abc", "x")
    assert bad.exit_code == 2
    assert f"Valeur invalide pour '--learners'{NB}: «{NB}abc{NB}» n’est pas un nombre valide" in bad.output


def test_a_usage_error_in_english() -> None:
    done = run("--lang", "en", "chek")
    assert done.exit_code == 2
    assert "Error: No such command 'chek'." in done.output and "Try 'labkit --help' for help." in done.output


# -- yes or no -------------------------------------------------------------------------------
class Resettable:
    """What `labkit reset` needs of a session, and whether it was reset."""

    def __init__(self) -> None:
        from labkit.labs import chapter_named

        self.chapter = chapter_named("snapshots")
        self.container = "c1"
        self.was_reset = False

    def reset_question(self):
        return self.chapter.reset_question.bind(**{**self.chapter.defaults, "container": "c1"})

    def reset(self):
        self.was_reset = True
        return None


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Resettable:
    made = Resettable()
    monkeypatch.setattr(cli_main.Options, "session", lambda self: made)
    monkeypatch.setattr(localized, "stdin_is_terminal", lambda: True)
    return made


@pytest.mark.parametrize("answer", ["o", "oui", "O", "y", "yes"])
def test_a_french_prompt_takes_o_and_oui(session: Resettable, answer: str) -> None:
    done = run("--lang", "fr", "reset", input=answer + "\n")
    assert f"Continuer{NB}? [o/N]{NB}: " in done.output
    assert done.exit_code == 0 and session.was_reset, done.output
    assert "invalid input" not in done.output


@pytest.mark.parametrize("answer", ["", "n", "non"])
def test_a_french_prompt_says_no_by_default(session: Resettable, answer: str) -> None:
    done = run("--lang", "fr", "reset", input=answer + "\n")
    assert done.exit_code == 2 and not session.was_reset
    assert "Rien n’a été modifié" in done.output


def test_a_french_prompt_asks_again_in_french_after_a_stray_answer(session: Resettable) -> None:
    done = run("--lang", "fr", "reset", input="peut-être\no\n")
    assert f"Répondez «{NB}o{NB}» pour continuer" in done.output
    assert done.exit_code == 0 and session.was_reset


def test_an_english_prompt(session: Resettable) -> None:
    done = run("--lang", "en", "reset", input="y\n")
    assert "Continue? [y/N]: " in done.output and done.exit_code == 0 and session.was_reset
    stray = run("--lang", "en", "reset", input="o\n\n")
    assert "Answer “y” to go on" in stray.output and stray.exit_code == 2


def test_no_terminal_no_question(monkeypatch: pytest.MonkeyPatch) -> None:
    made = Resettable()
    monkeypatch.setattr(cli_main.Options, "session", lambda self: made)
    done = run("--lang", "fr", "reset", input="o\n")  # stdin is not a terminal: refused, never asked
    assert done.exit_code == 2 and not made.was_reset and "Continuer" not in done.output


# -- a real process --------------------------------------------------------------------------
def test_a_real_labkit_speaks_french_in_its_help_and_errors() -> None:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(ROOT)}
    helped = subprocess.run([sys.executable, "-m", "labkit", "--lang", "fr", "class", "--help"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert helped.returncode == 0
    assert f"Utilisation{NB}: labkit class [OPTIONS] COMMANDE [ARGUMENTS]..." in helped.stdout
    assert "Sessions de formation" in helped.stdout
    wrong = subprocess.run([sys.executable, "-m", "labkit", "--lang", "fr", "check", "--jsn"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode == 2 and f"Erreur{NB}: l’option «{NB}--jsn{NB}» n’existe pas." in wrong.stderr
    english = subprocess.run([sys.executable, "-m", "labkit", "check", "--jsn"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert "Error: No such option '--jsn'." in english.stderr
