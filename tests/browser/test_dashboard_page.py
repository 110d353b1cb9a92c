"""The dashboard's page in Debian's chromium, served by the real service app behind JupyterHub's
HubOAuth (the hub's answer about a token replaced, as in tests/unit/test_dashboard.py): the
script draws the grid from status.json with the steps' titles, not-started learners apart,
the step each learner is on and the stuck mark past the threshold set in the page; the Reset
button asks first, and only an accepted confirmation sends the POST (with the page's XSRF token).
"""
from __future__ import annotations

import pytest

from tests.unit.test_dashboard import service  # noqa: F401 - the same service fixture

from .conftest import CHROMIUM, CHROMIUM_ARGS, require

pytestmark = pytest.mark.browser


def test_the_trainer_sees_the_room_and_resets_one_learner(service) -> None:  # noqa: F811
    require(incus=False)
    from playwright.sync_api import sync_playwright
    from tornado.web import create_signed_value

    url, secret, resets, grading = service
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context()
            context.add_cookies([{"name": "service-labkit", "url": url,
                                  "value": create_signed_value(secret, "service-labkit", "tok-instructor").decode()}])
            page = context.new_page()
            page.goto(url)
            page.wait_for_function("() => document.querySelectorAll('#grid tr[data-learner]').length === 2")
            page.wait_for_function("() => document.getElementById('updated').textContent !== '…'")
            heads = page.locator("#grid tr.head th").all_text_contents()
            assert "2. Prendre un instantané" in heads and "snapshot" not in heads
            state = lambda who: page.get_attribute(  # noqa: E731
                f'#grid tr[data-learner="{who}"] td[data-step="snapshot"]', "data-status")
            assert state("carol") == "not_started" and state("alice") == "failed"
            assert page.locator('#grid tr[data-learner="carol"] td.now').text_content() == "pas commencé"
            assert page.locator('#grid tr[data-learner="alice"] td.now').text_content() == "Prendre un instantané"
            assert "alice" in page.locator("#common").text_content() or page.locator("#common li").count() == 1
            # Stuck past the threshold set in the page.
            alice = next(ls for ls in grading.latest["learners"] if ls["learner"] == "alice")
            alice["current"]["seconds"] = 200  # 3 min 20 s on the step
            page.wait_for_function("""() => document.querySelector('#grid tr[data-learner="alice"] td.for')
                                      .textContent.startsWith('3')""")
            assert page.get_attribute('#grid tr[data-learner="alice"]', "data-stuck") == "false"  # 10 min by default
            page.fill("#stuck-minutes", "3")
            page.dispatch_event("#stuck-minutes", "change")
            page.wait_for_function("""() => document.querySelector('#grid tr[data-learner="alice"]')
                                      .dataset.stuck === 'true'""")
            assert "bloqué" in page.locator('#grid tr[data-learner="alice"] td.for').text_content()
            # Reset: a dismissed confirmation sends nothing; an accepted one resets alice.
            page.once("dialog", lambda dialog: dialog.dismiss())
            page.click('#grid tr[data-learner="alice"] button.reset')
            page.wait_for_timeout(500)
            assert resets == []
            asked: list[str] = []
            page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
            page.click('#grid tr[data-learner="alice"] button.reset')
            page.wait_for_function("() => document.getElementById('notice').textContent.includes('alice')")
            assert resets == [("alice", "instructor")] and "alice" in asked[0]
            assert page.locator("#error").text_content() == ""
        finally:
            chromium.close()
