"""The hub's own pages in the class language: JupyterHub's templates, with labkit's words.

JupyterHub renders its pages from Jinja templates and looks first in `template_paths`;
labkit's templates (templates/ beside this file) extend JupyterHub's own and take every
word from `template_vars["labkit"]`, made here from the catalogue in the class language.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..i18n import M

TEMPLATES = Path(__file__).resolve().parent / "templates"

WORDS = {
    "home": M("hub.page.home", "Home"),
    "dashboard": M("hub.page.dashboard", "Dashboard"),
    "logout": M("hub.page.logout", "Log out"),
    "sign_in": M("hub.page.sign_in", "Log in"),
    "username": M("hub.page.username", "Login:"),
    "password": M("hub.page.password", "Password:"),
    "submit": M("hub.page.submit", "Log in"),
    "insecure": M("hub.page.insecure", "This page comes over plain HTTP: your password travels in clear text. Ask your "
                                       "instructor for the HTTPS address."),
    "login_error": M("hub.page.login_error", "Wrong login or password. Type them as they are on your card."),
    "instructor_home": M("hub.page.instructor_home", "You are the class's instructor: you have no workspace, your "
                                                     "page is the class dashboard."),
    "open_dashboard": M("hub.page.open_dashboard", "Open the dashboard"),
    "learner_home": M("hub.page.learner_home", "Your lab runs in a workspace of your own: JupyterLab, with "
                                               "your notebook and a terminal."),
    "open_lab": M("hub.page.open_lab", "Open my lab"),
    "starting": M("hub.page.starting", "Your workspace is starting."),
    "redirected": M("hub.page.redirected", "Your notebook opens by itself as soon as it is ready."),
    "event_log": M("hub.page.event_log", "What the hub did"),
    "stop_server": M("hub.page.stop", "Stop"),
    "not_running": M("hub.page.not_running", "Your workspace is stopped"),
    "not_running_failed": M("hub.page.not_running_failed", "Your workspace did not start"),
    "not_running_message": M("hub.page.not_running_message", "It stops after a while without activity; your files are "
                                                             "kept. Open your lab to start it again."),
    "failed_message": M("hub.page.failed_message", "Try once more; if it fails again, tell your instructor."),
    "error_detail": M("hub.page.error_detail",
                      "Something went wrong. Go back to the home page, or tell your instructor."),
}
ERRORS = {
    "403": M("hub.page.error.403", "Not yours"),
    "404": M("hub.page.error.404", "Page not found"),
    "500": M("hub.page.error.500", "Server error"),
    "503": M("hub.page.error.503", "Not available yet"),
}
ERROR_DETAILS = {
    "403": M("hub.page.error.403.detail",
             "This page belongs to someone else: each learner may open only their own lab."),
    "404": M("hub.page.error.404.detail", "There is no such page. Go back to the home page."),
}


def page_words(lang: str) -> dict[str, Any]:
    """What the templates read as `labkit.*`: plain strings (Jinja escapes them)."""
    words: dict[str, Any] = {key: message.render(lang) for key, message in WORDS.items()}
    words["errors"] = {code: message.render(lang) for code, message in ERRORS.items()}
    words["error_details"] = {code: message.render(lang) for code, message in ERROR_DETAILS.items()}
    return words
