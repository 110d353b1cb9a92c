"""Regenerate the README's pictures of a served class (docs/screenshots/hub-*.png) in
Debian's chromium: the instructor's dashboard and a learner's JupyterLab, on a fresh
class of 3 (two learners have taken their snapshot), destroyed afterwards.  As root:

    .venv/bin/python scripts/hub_screenshots.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.hub.conftest import served_class, submit_login, wait_notebook  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    from playwright.sync_api import sync_playwright

    for lang, locale in (("en", "en-GB"), ("fr", "fr-FR")):
        with tempfile.TemporaryDirectory(prefix="labkit-shots-") as tmp, \
                served_class(Path(tmp), 3, "lks", lang=lang) as cls:
            for learner in ("learner01", "learner02"):
                subprocess.run(["incus", "snapshot", "create", "ubuntu-test", "ubuntu-test-1", "--project",
                                f"{cls.name}-{learner}"], check=True)
            creds = cls.credentials()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                learner = browser.new_context(viewport={"width": 1280, "height": 800}, locale=locale).new_page()
                learner.goto(cls.url + "hub/login")
                learner.screenshot(path=str(OUT / f"hub-login-{lang}.png"))
                submit_login(learner, cls.url, "learner01", creds["learner01"]["password"])
                nb = wait_notebook(learner)
                nb.select(nb.cells().nth(0))
                nb.run_selected(times=4)
                learner.screenshot(path=str(OUT / f"hub-learner-lab-{lang}.png"))
                instructor = browser.new_context(viewport={"width": 1100, "height": 520}, locale=locale).new_page()
                submit_login(instructor, cls.url, "instructor", creds["instructor"]["password"])
                instructor.wait_for_url("**/services/labkit/")
                instructor.wait_for_function(
                    """() => [...document.querySelectorAll('#grid td[data-step="snapshot"]')].filter(
                             td => td.dataset.status === 'passed').length === 2""", timeout=60_000)
                instructor.screenshot(path=str(OUT / f"hub-dashboard-{lang}.png"))
                browser.close()
        print(f"written: {OUT}/hub-{{login,learner-lab,dashboard}}-{lang}.png")


if __name__ == "__main__":
    main()
