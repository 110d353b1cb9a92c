"""A French class from login to dashboard, in Debian's chromium: the hub's login page, JupyterLab's
menus, a learner's terminal running `labkit check`, and the instructor's pages are French (the
English class of test_hub.py is English); a screenshot of each is kept beside the test's files."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.browser.conftest import VIEWPORT

from .conftest import ServedClass, served_class, submit_login, terminal, wait_notebook

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedClass]:
    with served_class(tmp_path_factory.mktemp("hub-fr"), learners=1, prefix="lkfr", lang="fr") as cls:
        yield cls


def shot(page: Any, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, path


def test_a_french_learner_meets_french_everywhere(hub: ServedClass, browser: Any, tmp_path: Path) -> None:
    creds = hub.credentials()
    page = browser.new_context(viewport=VIEWPORT, locale="fr-FR").new_page()
    page.set_default_timeout(60_000)
    page.goto(hub.url + "hub/login")
    assert page.locator("h1").first.text_content().strip() == "Connexion"
    assert page.locator("label[for=username_input]").text_content().strip() == "Identifiant\u00a0:"
    assert page.locator("#login_submit").get_attribute("value") == "Se connecter"
    assert "Sign in" not in page.content() and "Username" not in page.content()
    shot(page, tmp_path, "fr-login")

    submit_login(page, hub.url, "learner01", creds["learner01"]["password"])
    wait_notebook(page)
    menus = page.locator(".lm-MenuBar-itemLabel").all_text_contents()
    assert "Fichier" in menus and "File" not in menus, menus
    shot(page, tmp_path, "fr-jupyterlab")

    said = terminal(page, 'labkit check snapshot; echo "==""FIN"', "==FIN")
    assert "échouée" in said and "Prendre un instantané" in said and "failed" not in said, said
    assert "incus snapshot create ubuntu-test ubuntu-test-1" in said, said

    refused = page.goto(hub.url + "services/labkit/")  # the dashboard is the instructor's
    assert refused.status == 403
    page.goto(hub.url + "hub/admin")  # the hub's own error page, in French
    assert "Cette page n’est pas la vôtre" in page.locator("body").inner_text()


def test_the_french_instructor_has_a_dashboard_and_no_server(hub: ServedClass, browser: Any, tmp_path: Path) -> None:
    creds = hub.credentials()
    page = browser.new_context(viewport=VIEWPORT, locale="fr-FR").new_page()
    page.set_default_timeout(60_000)
    submit_login(page, hub.url, "instructor", creds["instructor"]["password"])
    page.wait_for_url("**/services/labkit/")
    page.wait_for_function("() => document.querySelectorAll('#grid tr[data-learner]').length === 1")
    headers = page.locator("#grid th").all_text_contents()
    assert "Apprenant" in headers or "Apprenant·e" in headers or any("Apprenant" in h for h in headers), headers
    shot(page, tmp_path, "fr-dashboard")
    page.goto(hub.url + "hub/home")
    text = page.locator("body").inner_text()
    assert "tableau de bord" in text and "Start My Server" not in text and "Ouvrir mon TP" not in text, text
    assert page.locator("#dashboard").count() == 1 and page.locator("#start").count() == 0
    assert "Se déconnecter" in text and "Logout" not in text
    shot(page, tmp_path, "fr-instructor-home")
