"""The instructor's dashboard: a JupyterHub service at /services/labkit/ (hub OAuth).

Modelled on JupyterHub's examples/service-whoami: a small Tornado app whose handlers
are `HubOAuthenticated`.  Only the instructor may enter (the hub's `access:services`
scope, and admin); a learner gets 403.  The class is graded by `classroom.status.watch`,
with the instructor's own access (root's socket, passed by `serve`), never a learner's;
the page fetches status.json every few seconds and redraws its grid in place.

A learner's lab is reset by a POST to `reset` (the page's button, after a confirmation):
cookie-authenticated, so JupyterHub's XSRF check applies (the page sends X-XSRFToken), and
only the instructor (or an admin) gets past `InstructorOnly`; the reset is journaled with the
hub user who asked for it (classroom/reset.py).

Run by the hub:  python -m labkit.hub.dashboard --class NAME --folder DIR --lang fr|en [--stuck-minutes M]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from ..classroom import reset as resetting
from ..classroom.progress import DEFAULT_STUCK_MINUTES
from ..classroom.report import status_json
from ..classroom.report_files import report_csv, report_html
from ..classroom.status import class_status, watch
from ..errors import LabkitError, UsageError
from ..i18n import M
from ..incus.client import IncusClient, find_endpoint
from .dashboard_page import page_html
from .state import INSTRUCTOR

REFRESH_SECONDS = 2


class Grading:
    """The latest graded status of the class, kept fresh by a background watch."""

    def __init__(self, cls: str, folder: Path, lang: str, stuck_minutes: float = DEFAULT_STUCK_MINUTES):
        self.cls, self.folder, self.lang = cls, folder, lang
        self.stuck_after = timedelta(minutes=stuck_minutes)
        self.latest: dict[str, Any] | None = None
        self.error: str | None = None
        self.seconds = 0.0

    def show(self, status: Any) -> None:
        self.latest, self.error, self.seconds = status_json(status, self.lang), None, status.seconds

    def run(self) -> None:
        parent = os.getppid()
        while os.getppid() == parent:  # a hub killed with -9 leaves no dashboard behind
            try:
                with IncusClient(find_endpoint()) as client:
                    watch(client=client, name=self.cls, folder=self.folder, show=self.show, every=3.0, seconds=30.0,
                          stuck_after=self.stuck_after)  # returns now and then, so the parent check above runs
            except LabkitError as exc:
                self.error = exc.render(self.lang)
                time.sleep(REFRESH_SECONDS)
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                time.sleep(REFRESH_SECONDS)
        os._exit(0)

    def reset(self, learner: str, by: str) -> dict[str, Any]:
        """One learner's lab back at its start, journaled with the hub user who asked (blocking)."""
        with IncusClient(find_endpoint()) as client:
            plan = resetting.plan_reset(client, self.cls, learner)
            return resetting.apply_reset(client, plan, self.folder, by=by, via="dashboard")

    def report(self, kind: str) -> str:
        journals: dict = {}
        with IncusClient(find_endpoint()) as client:
            status = class_status(client=client, name=self.cls, folder=self.folder, journals=journals)
        return (report_html if kind == "html" else report_csv)(status, journals, self.lang)


class InstructorOnly(HubOAuthenticated, web.RequestHandler):
    def initialize(self, grading: Grading) -> None:
        self.grading = grading

    def prepare(self) -> None:
        user = self.current_user
        if user is None:  # not logged in: to the hub's login, then back here
            return
        if user.get("name") != INSTRUCTOR and not user.get("admin"):
            raise web.HTTPError(403)


class PageHandler(InstructorOnly):
    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; "
                                                   "script-src 'unsafe-inline' 'self'")
        # The page's fetch() calls are cookie-authenticated: JupyterHub wants its XSRF token on them.
        token = self.xsrf_token
        token = token.decode() if isinstance(token, bytes) else token
        self.finish(page_html(self.grading.cls, self.grading.lang, self.grading.latest, REFRESH_SECONDS, token,
                              self.grading.stuck_after.total_seconds() / 60))


class StatusHandler(InstructorOnly):
    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if self.grading.latest is None:
            self.set_status(503)
            message = self.grading.error or M("hub.dashboard.grading", "Grading the class…").render(self.grading.lang)
            self.finish(json.dumps({"error": message}, ensure_ascii=False))
            return
        self.finish(json.dumps(self.grading.latest, ensure_ascii=False))


class ResetHandler(InstructorOnly):
    @web.authenticated
    async def post(self) -> None:
        # Already applied by HubOAuth before it trusts the cookie; said again here, where it matters most.
        self.check_xsrf_cookie()
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        try:
            learner = json.loads(self.request.body or b"{}").get("learner")
        except (ValueError, AttributeError):
            learner = None
        if not isinstance(learner, str) or not learner or len(learner) > 64:
            raise web.HTTPError(400)
        try:
            entry = await asyncio.get_running_loop().run_in_executor(
                None, self.grading.reset, learner, str(self.current_user.get("name") or "?"))
        except LabkitError as exc:
            self.set_status(404 if isinstance(exc, UsageError) else 500)
            self.finish(json.dumps({"error": exc.render(self.grading.lang)}, ensure_ascii=False))
            return
        done = M("hub.dashboard.reset_done", "The lab of {learner} is back at its start.", learner=learner)
        self.finish(json.dumps({"reset": entry, "message": done.render(self.grading.lang)}, ensure_ascii=False))


class ReportHandler(InstructorOnly):
    def initialize(self, grading: Grading, kind: str) -> None:  # type: ignore[override]
        self.grading, self.kind = grading, kind

    @web.authenticated
    async def get(self) -> None:
        text = await asyncio.get_running_loop().run_in_executor(None, self.grading.report, self.kind)
        if self.kind == "csv":
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", f'attachment; filename="{self.grading.cls}.csv"')
        else:
            self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(text)


def make_app(grading: Grading) -> web.Application:
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/labkit/")
    args = {"grading": grading}
    return web.Application([
        (prefix, PageHandler, args),
        (url_path_join(prefix, "status.json"), StatusHandler, args),
        (url_path_join(prefix, "reset"), ResetHandler, args),
        (url_path_join(prefix, "report.html"), ReportHandler, args | {"kind": "html"}),
        (url_path_join(prefix, "report.csv"), ReportHandler, args | {"kind": "csv"}),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
    ], cookie_secret=os.urandom(32))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="labkit.hub.dashboard")
    parser.add_argument("--class", dest="cls", required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--lang", default="en")
    # The hub may pass it; LABKIT_STUCK_MINUTES in the service's environment does too.
    parser.add_argument("--stuck-minutes", type=float,
                        default=float(os.environ.get("LABKIT_STUCK_MINUTES") or DEFAULT_STUCK_MINUTES))
    args = parser.parse_args(argv)
    # The hub stops its services with SIGINT, then SIGTERM: both end this one at once (even when
    # started from a shell that ignores SIGINT), without waiting for a grading in progress.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: os._exit(0))
    grading = Grading(args.cls, args.folder, args.lang, max(0.5, args.stuck_minutes))
    threading.Thread(target=grading.run, name="labkit-dashboard-grading", daemon=True).start()
    url = os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")
    host, _, port = url.split("://", 1)[-1].rstrip("/").rpartition(":")
    make_app(grading).listen(int(port), host)
    IOLoop.current().start()


if __name__ == "__main__":
    main()
