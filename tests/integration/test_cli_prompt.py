"""A learner answers labkit's confirmation in a real terminal: « o » in French, « y » in English.

`labkit reset` asks before touching anything; the instance named here does not exist, so once the
answer is accepted the command goes on and stops at the real daemon's answer: nothing to reset.
"""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

NB = "\u00a0"


def answer_in_a_terminal(args: list[str], answer: str, tmp_path: Path) -> tuple[int, str]:
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "labkit", *args, "--journal", str(tmp_path / "journal.jsonl"),
                                "reset"], stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""

    def read_until(text: bytes | None, seconds: float) -> None:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (text is None or text not in seen):
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:  # the process ended and closed its side
                    return

    read_until(b"/N]", 60)
    os.write(master, answer.encode() + b"\n")
    code = process.wait(timeout=120)
    read_until(None, 1)
    os.close(master)
    return code, seen.decode("utf-8", "replace")


@pytest.mark.parametrize("lang, answer, question, missing", [
    ("fr", "o", f"Continuer{NB}? [o/N]{NB}: ", "Il n’existe aucune instance"),
    ("fr", "oui", f"Continuer{NB}? [o/N]{NB}: ", "Il n’existe aucune instance"),
    ("en", "y", "Continue? [y/N]: ", "There is no instance"),
])
def test_the_answer_in_the_user_s_language_is_accepted(
        tmp_path: Path, lang: str, answer: str, question: str, missing: str) -> None:
    name = f"lk-prompt-{uuid.uuid4().hex[:8]}"
    code, seen = answer_in_a_terminal(["--lang", lang, "--container", name], answer, tmp_path)
    assert question in seen
    assert "invalid input" not in seen and "réponse invalide" not in seen
    assert missing in seen and code == 2, seen


def test_enter_refuses_in_french(tmp_path: Path) -> None:
    name = f"lk-prompt-{uuid.uuid4().hex[:8]}"
    code, seen = answer_in_a_terminal(["--lang", "fr", "--container", name], "", tmp_path)
    assert "Rien n’a été modifié" in seen and code == 2, seen
