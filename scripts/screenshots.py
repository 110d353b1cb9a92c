#!/usr/bin/env python3
"""Regenerate the README's screenshots with the browser tests' harness.

    .venv/bin/python scripts/screenshots.py        (make screenshots; needs Incus and chromium)

For each language a learner's run in JupyterLab (light theme) on a fresh instance:
type the snapshot command, run it and its check (a passed check); then run the next
check without acting (a failed check, with its hint).  Writes
docs/screenshots/check-{passed,failed}-{en,fr}.png, each cropped to the cells shown.
The throwaway instance's name is shown as ubuntu-test, the name learners have.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import JupyterLab, NotebookPage, chromium, instance, missing_requirements, prepare  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
LIMIT = 200_000  # bytes per picture: they live in the repository
WIDTH = 940      # px: the README shows them at about this width


def cell_index(path: Path, cell_id: str) -> int:
    import nbformat

    return [c.get("id") for c in nbformat.read(path, as_version=4).cells].index(cell_id)


def rename(page, name: str) -> None:
    """Show the learner's usual instance name, ubuntu-test, instead of our throwaway one
    (never touched: it may be a learner's).  Only the text on screen changes."""
    page.evaluate("""([from, to]) => {
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walk.nextNode(); node; node = walk.nextNode()) {
          if (node.data.includes(from)) node.data = node.data.split(from).join(to);
        }
      }""", [name, "ubuntu-test"])


def shoot(lab: JupyterLab, context, lang: str) -> list[Path]:
    with instance("lk-shot") as name, tempfile.TemporaryDirectory() as state:
        path = prepare(lab, lang, f"screenshots-{name}", notebook="snapshots", container=name, autosolve=False,
                       journal=str(Path(state) / "journal.json"))
        ids = {i: cell_index(lab.root / path, i) for i in ("snapshot-command", "snapshot-check", "touch-check")}
        page = context.new_page()
        page.set_viewport_size({"width": WIDTH, "height": 1000})
        nb = NotebookPage(page, lab).open(path, f"shots-{name}")
        nb.hide_sidebar()
        cells = nb.cells()
        nb.select(cells.nth(0))
        nb.run_selected(times=ids["snapshot-command"])
        command, check = cells.nth(ids["snapshot-command"]), cells.nth(ids["snapshot-check"])
        nb.type_into(command, f"incus snapshot create {name} ubuntu-test-1")
        nb.run_selected(times=2)
        assert nb.boxes(check).first.get_attribute("class").endswith("labkit-passed"), \
            nb.boxes(check).first.text_content()
        rename(page, name)
        command.locator(".cm-content").click()  # the typed line too, without running it again
        page.keyboard.press("Control+End")
        page.keyboard.press("Shift+Home")
        page.keyboard.type("incus snapshot create ubuntu-test ubuntu-test-1")
        page.keyboard.press("Escape")
        command.evaluate("el => el.classList.remove('jp-mod-dirty')")  # it ran, with the throwaway name
        nb.select(cells.last)  # the selection bar and cell toolbar away from the picture
        passed = OUT / f"check-passed-{lang}.png"
        nb.shot(passed, command, check)
        touch = cells.nth(ids["touch-check"])
        nb.run_cell(touch)
        assert nb.boxes(touch).first.get_attribute("class").endswith("labkit-failed"), \
            nb.boxes(touch).first.text_content()
        rename(page, name)
        nb.select(cells.last)
        failed = OUT / f"check-failed-{lang}.png"
        nb.shot(failed, touch)
        page.close()
        return [passed, failed]


def main() -> int:
    missing = missing_requirements(incus=True)
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 2
    started = time.monotonic()
    written = []
    with tempfile.TemporaryDirectory(prefix="labkit-shots-") as work, JupyterLab(Path(work)) as lab, \
            chromium(locale="en-GB") as context:
        for lang in ("en", "fr"):
            written += shoot(lab, context, lang)
    for path in written:
        size = path.stat().st_size
        print(f"{path.relative_to(ROOT)}  {size // 1024} KB")
        if size > LIMIT:
            print(f"  larger than {LIMIT // 1000} KB", file=sys.stderr)
            return 1
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
