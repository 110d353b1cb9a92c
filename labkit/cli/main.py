"""The `labkit` command: a thin layer over Session, setup and doctor.

Exit codes (docs/architecture.md §4): 0 every requested step passed, 1 a step failed or is not
verified, 2 the environment is unusable or the arguments are wrong.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import click

from ..errors import IncusUnavailable, UsageError
from ..grading import render
from ..grading.contract import INSTANCE_PARAM
from ..i18n import M, Message, normalise_language
from ..labs import CHAPTERS, DEFAULT_LAB, chapter_named
from ..servers import SNAPSHOT_SERVER
from ..terminal import terminal
from .classes import class_group
from .errors import confirm, handles_errors
from .lab import lab_command
from .localized import Root, argument, option, use_language
from .signals import interrupt_on

# Each command imports what only it uses when it runs (setup, doctor, the recorder, the notebooks' tools):
# `labkit --help`, and a check through click, load none of them.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


class Options:
    def __init__(self, lang: str, container: str | None, snapshot: str | None, project: str | None,
                 journal: Path | None, lab: str = DEFAULT_LAB):
        self.lang, self.container, self.snapshot, self.project, self.journal = (
            lang, container, snapshot, project, journal)
        self.lab = lab

    def session(self):
        from ..app.session import Session

        return Session(lab=self.lab, container=self.container, snapshot=self.snapshot, project=self.project,
                       journal=self.journal)

    def default_container(self) -> str:
        """The lab instance's name when --container is not given: the chapter's own."""
        return chapter_named(self.lab).defaults[INSTANCE_PARAM]

    def say(self, message: Message, err: bool = False) -> None:
        click.echo(terminal(message, self.lang), err=err)


@click.group(cls=Root, context_settings=CONTEXT_SETTINGS,
             help=M("cli.help.main", "labkit — the Incus snapshots labs, graded against your real containers."))
@option("--lang", type=click.Choice(["fr", "en"]), default=None, is_eager=True, callback=use_language,
        help=M("cli.help.main.lang", "Language of messages (default: from LANG)."))
@option("--lab", type=click.Choice(list(CHAPTERS)), default=DEFAULT_LAB, show_default=True,
        help=M("cli.help.main.lab", "Which lab (chapter) to grade."))
@option("--container", default=None, help=M("cli.help.main.container", "Lab instance (default: the lab's own)."))
@option("--snapshot", default=None, help=M("cli.help.main.snapshot", "Snapshot name (default: the lab's own)."))
@option("--project", default=None, help=M("cli.help.main.project", "Incus project (default: the client's)."))
@option("--journal", type=click.Path(path_type=Path), default=None,
        help=M("cli.help.main.journal", "Journal file (default: in the XDG state folder)."))
@click.pass_context
def main(ctx: click.Context, lang: str | None, lab: str, container: str | None, snapshot: str | None,
         project: str | None, journal: Path | None) -> None:
    ctx.obj = Options(normalise_language(lang), container, snapshot, project, journal, lab)


@main.command(help=M("cli.help.check", "Grade the given steps (all of them when none is given)."))
@argument("steps", nargs=-1, metavar=M("cli.metavar.steps", "[STEP]..."))
@option("--json", "as_json", is_flag=True, help=M("cli.help.check.json", "Print one JSON object."))
@option("--verbose", "-v", is_flag=True,
        help=M("cli.help.check.verbose", "Every step in full, also those waiting on an earlier one."))
@click.pass_obj
@handles_errors
def check(opts: Options, steps: tuple[str, ...], as_json: bool, verbose: bool) -> None:
    # The console script runs the plain forms of this command without click (entry.py).
    from .check import run_check

    sys.exit(run_check(lang=opts.lang, lab=opts.lab, container=opts.container, snapshot=opts.snapshot,
                       project=opts.project, journal=opts.journal, steps=steps, as_json=as_json, verbose=verbose))


@main.command(help=M("cli.help.hint", "A nudge first; the exact command when asked again."))
@argument("step", metavar=M("cli.metavar.step", "STEP"))
@click.pass_obj
@handles_errors
def hint(opts: Options, step: str) -> None:
    session = opts.session()
    level, message = session.hint(step)
    click.echo(terminal(message, opts.lang))
    for warning in session.journal.warnings:
        opts.say(warning, err=True)


@main.command(help=M("cli.help.report", "Score table of this attempt: status, time, attempts and hints per step."))
@option("--json", "as_json", is_flag=True, help=M("cli.help.report.json", "Print one JSON object."))
@click.pass_obj
@handles_errors
def report(opts: Options, as_json: bool) -> None:
    from ..grading.progress import attempt_report, report_table

    session = opts.session()
    data = attempt_report(session.chapter, session.journal.attempt_view())
    if as_json:
        click.echo(render.dumps(data))
    else:
        click.echo(report_table(session.chapter, data, opts.lang))


@main.command(help=M("cli.help.watch",
                     "Record lifecycle events into the journal until interrupted (for terminal users)."))
@option("--seconds", type=float, default=None,
        help=M("cli.help.watch.seconds", "Stop after this many seconds (default: until interrupted)."))
@click.pass_obj
@handles_errors
def watch(opts: Options, seconds: float | None) -> None:
    from ..incus.events import Listener

    session = opts.session()
    session.journal.ensure_baseline(session.observe().instance)
    listener = Listener(session.endpoint, session.container, lambda entry: session.record_events([entry])).start()
    opts.say(M("cli.watch.started",
               "Watching {container}: lifecycle events go into your journal. Press Ctrl+C to stop.",
               container=session.container), err=True)
    interrupt_on(signal.SIGTERM)
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while listener.alive and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        lost = not listener.alive
        listener.stop()
    if lost:
        raise IncusUnavailable(M("cli.watch.lost", "The connection to the Incus daemon was lost: events are no longer "
                                                   "recorded. Restart “labkit watch” once the daemon is back."))
    opts.say(M("cli.watch.stopped", "Stopped watching. Your journal now holds {count} events.",
               count=len(session.journal.attempt_view().events)), err=True)


@main.command(help=M("cli.help.reset", "Put the instance back to the chapter's start and archive the journal."))
@option("--yes", is_flag=True, help=M("cli.help.reset.yes", "Do not ask for confirmation."))
@click.pass_obj
@handles_errors
def reset(opts: Options, yes: bool) -> None:
    session = opts.session()
    if not yes:
        confirm(session.reset_question(),
                M("cli.reset.needs_yes", "Nothing was changed. Confirm the reset, or pass --yes."), opts.lang)
    archived = session.reset()
    opts.say(M("cli.reset.done", "{container} is back at the start of the lab “{title}”.", container=session.container,
               title=session.chapter.title))
    if archived is not None:
        opts.say(M("cli.reset.archived", "Your previous attempt is kept in {archive}.", archive=str(archived)))


@main.command(hidden=True, help=M("cli.help.record", "Run the event recorder in the foreground (`labkit setup` "
                                                     "starts it in the background)."))
@option("--stop", "stop_it", is_flag=True,
        help=M("cli.help.record.stop", "Stop this instance's recorder (and disable its unit)."))
@click.pass_obj
@handles_errors
def record(opts: Options, stop_it: bool) -> None:
    from ..app import recorder_service

    session = opts.session()
    if stop_it:
        stopped = recorder_service.stop(session.project, session.container)
        opts.say(M("cli.record.stopped", "The event recorder of {container} is stopped.",
                   container=session.container) if stopped
                 else M("cli.record.not_running", "No event recorder was running for {container}.",
                        container=session.container))
        return
    if session.endpoint.remote is not None:
        raise UsageError(M("cli.record.remote", "The event recorder works with a local Incus socket only; with a "
                                                 "remote server, keep “labkit watch” running or use the notebook."))
    config, _ = recorder_service.write_config(session.endpoint, session.chapter.id, session.params,
                                              session.journal.path or Path(os.devnull))
    session.close()
    # Replace this process: the recorder must not keep click and the HTTP client in memory.
    os.execv(sys.executable, [sys.executable, "-m", "labkit.app.recorder", "--config", str(config)])


@main.command(help=M("cli.help.setup",
                     "Install and start Incus if needed, prepare storage, image and the lab instance."))
@option("--image", default=None,
        help=M("cli.help.setup.image", "Image for the lab instance (default: images:ubuntu/24.04 if reachable, else a "
                                       "local Debian image)."))
@option("--recreate", is_flag=True, help=M("cli.help.setup.recreate", "Delete and rebuild the lab instance."))
@option("--yes", is_flag=True, help=M("cli.help.setup.yes", "Do not ask for confirmation."))
@option("--test-tools", is_flag=True,
        help=M("cli.help.setup.test_tools", "Also install what `make test` needs (chromium, fonts; as root)."))
@option("--no-recorder", is_flag=True,
        help=M("cli.help.setup.no_recorder", "Do not start the background event recorder."))
@option("--snapshot-server", is_flag=True,
        help=M("cli.help.setup.snapshot_server", "Only bring up the lab's snapshot server (a second "
                                                 "Incus daemon on loopback)."))
@option("--snapshot-server-port", type=int, default=8444, show_default=True,
        help=M("cli.help.setup.snapshot_server_port", "Its HTTPS port on 127.0.0.1."))
@option("--snapshot-server-dir", type=click.Path(path_type=Path, file_okay=False, readable=False),
        envvar="LABKIT_SNAPSHOT_SERVER_DIR", default=Path("/var/lib/labkit-snapshot-server"), show_default=True,
        help=M("cli.help.setup.snapshot_server_dir", "Its INCUS_DIR."))
@option("--snapshot-server-url", default=None,
        help=M("cli.help.setup.snapshot_server_url", "Use this existing Incus server (https://HOST:PORT) instead."))
@option("--snapshot-server-remote", default="incus-snapshot", show_default=True,
        help=M("cli.help.setup.snapshot_server_remote", "The remote name learners give it."))
@option("--stop", "stop_it", is_flag=True,
        help=M("cli.help.setup.stop", "With --snapshot-server: stop it and remove its folder."))
@option("--no-main-listen", is_flag=True, hidden=True,
        help=M("cli.help.setup.no_main_listen", "Tests: leave the main daemon's core.https_address alone."))
@click.pass_obj
@handles_errors
def setup(opts: Options, image: str | None, recreate: bool, yes: bool, test_tools: bool, no_recorder: bool,
          snapshot_server: bool, snapshot_server_port: int, snapshot_server_dir: Path, snapshot_server_url: str | None,
          snapshot_server_remote: str, stop_it: bool, no_main_listen: bool) -> None:
    from ..app.setup import run_setup
    from .phases import Phases

    if snapshot_server or snapshot_server_url:
        from ..provision import second_server as second

        second.run_setup(lang=opts.lang, say=lambda message: click.echo(message.render(opts.lang)),
                         incus_dir=snapshot_server_dir, port=snapshot_server_port, url=snapshot_server_url,
                         remote=snapshot_server_remote, stop_it=stop_it, main_listens=not no_main_listen)
        return
    if test_tools:
        from ..provision.daemon import STATE_DIR
        from ..provision.install import ensure_test_tools

        ensure_test_tools(STATE_DIR / "setup.log", lambda message: opts.say(message, err=True))
    run_setup(lang=opts.lang, lab=opts.lab, container=opts.container, snapshot=opts.snapshot, project=opts.project,
              image=image, recreate=recreate, yes=yes, journal=opts.journal, recorder=not no_recorder, confirm=confirm,
              phases=Phases(opts.lang))
    if chapter_named(opts.lab).needs_server(SNAPSHOT_SERVER):
        # The lab cannot be done without it: bring it up too (idempotent), or say how.
        from ..provision import second_server as second
        from ..provision.install import is_root

        if is_root():
            second.run_setup(lang=opts.lang, say=lambda message: click.echo(message.render(opts.lang)),
                             incus_dir=snapshot_server_dir, port=snapshot_server_port, url=None,
                             remote=snapshot_server_remote, stop_it=False, main_listens=not no_main_listen)
        else:
            opts.say(M("setup.needs_snapshot_server", "This lab also needs the snapshot server: run “sudo labkit setup "
                                                      "--snapshot-server” (or, on a training server, use the "
                                                      "token your trainer gives you)."))


@main.command(help=M("cli.help.doctor", "Read-only diagnosis of the lab environment."))
@option("--json", "as_json", is_flag=True, help=M("cli.help.doctor.json", "Print one JSON object."))
@click.pass_obj
@handles_errors
def doctor(opts: Options, as_json: bool) -> None:
    from ..app.doctor import diagnose, doctor_json, doctor_text

    checks = diagnose(container=opts.container or opts.default_container(), project=opts.project)
    ok = all(c.ok or not c.required for c in checks)
    click.echo(render.dumps(doctor_json(checks, opts.lang, ok)) if as_json else doctor_text(checks, opts.lang))
    sys.exit(0 if ok else 2)


@main.group(help=M("cli.help.notebooks",
                   "Build the French and English notebooks from their one source, or check them."))
def notebooks() -> None:
    pass


def _repository(root: Path) -> Path:
    if not (root / "translations").is_dir() or not (root / "notebooks").is_dir():
        raise UsageError(M("cli.notebooks.not_repo", "{root} is not a labkit checkout (no notebooks/ or translations/ "
                                                     "folder): run this command from the repository, or pass --root.",
                           root=str(root)))
    return root


@notebooks.command("build", help=M("cli.help.notebooks.build", "Write notebooks/en and notebooks/fr from the source "
                                                               "and the French catalogue."))
@option("--root", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
        help=M("cli.help.notebooks.build.root", "Repository root."))
@click.pass_obj
@handles_errors
def notebooks_build(opts: Options, root: Path) -> None:
    from ..notebooks.build import build

    for path in build(_repository(root)):
        opts.say(M("cli.notebooks.written", "Written: {path}", path=str(path)))


@notebooks.command("check", help=M("cli.help.notebooks.check", "Fail when notebooks or catalogues have "
                                                               "drifted from their source."))
@option("--root", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
        help=M("cli.help.notebooks.check.root", "Repository root."))
@click.pass_obj
@handles_errors
def notebooks_check(opts: Options, root: Path) -> None:
    from ..notebooks.catalogue import runtime_problems
    from ..notebooks.check import problems

    root = _repository(root)
    found = runtime_problems(root) + problems(root)
    for problem in found:
        opts.say(problem, err=True)
    if found:
        opts.say(M("cli.notebooks.drift", "{count} problems: the French and English material are out of sync.",
                   count=len(found)), err=True)
        sys.exit(1)
    opts.say(M("cli.notebooks.ok", "Notebooks and catalogues are in sync in both languages."))


main.add_command(class_group)
main.add_command(lab_command)


if __name__ == "__main__":  # pragma: no cover
    main()
