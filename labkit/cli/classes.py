"""`labkit class create|status|reset|report|destroy|serve|credentials`: thin wrappers over classroom/ and hub/.

Registered in cli/main.py with `main.add_command(class_group)`; the global options
(--lang, --container, --snapshot) come from the parent command.
"""
from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..classroom.progress import DEFAULT_STUCK_MINUTES
from ..errors import UsageError
from ..grading.render import dumps
from ..i18n import M, Message, Number, normalise_language
from ..keys import ROLE_KEY, WORKSPACE_KEY
from ..terminal import terminal
from .errors import confirm, handles_errors
from .localized import Group, argument, option
from .signals import interrupt_on

if TYPE_CHECKING:
    from ..classroom.server_side import ClassServerKind

# Every `labkit` command loads this module (cli/main.py registers its group): each class command imports
# the classroom/ and hub/ modules it uses when it runs.


@dataclass
class ClassOptions:
    lang: str
    container: str | None
    snapshot: str | None
    root: Path | None
    # `labkit --lab ID class …`: only when given (a class otherwise does the lab it was created for).
    lab: str | None = None

    def folder(self, name: str) -> Path:
        from ..classroom.spec import default_folder

        return self.root / name if self.root else default_folder(name)

    def say(self, message: Message, err: bool = True) -> None:
        click.echo(terminal(message, self.lang), err=err)

    def tick(self, message: Message) -> None:
        click.echo(f"✔ {terminal(message, self.lang)}", err=True)


def _client(lean_reads: bool = False):
    from ..incus.client import IncusClient, find_endpoint

    return IncusClient(find_endpoint(), lean_reads=lean_reads)


@click.group("class", cls=Group, help=M("class.help.class", "Training sessions: one isolated lab per learner "
                                                            "on a shared Incus server."))
@option("--dir", "root", type=click.Path(path_type=Path, file_okay=False), default=None,
        help=M("class.help.class.dir", "Where classes keep access folders and journals (default: "
                                       "$XDG_STATE_HOME/labkit/classes)."))
@click.pass_context
def class_group(ctx: click.Context, root: Path | None) -> None:
    parent = ctx.obj
    given = ctx.parent is not None and ctx.parent.get_parameter_source("lab") is click.core.ParameterSource.COMMANDLINE
    ctx.obj = ClassOptions(getattr(parent, "lang", None) or normalise_language(None),
                           getattr(parent, "container", None), getattr(parent, "snapshot", None), root,
                           getattr(parent, "lab", None) if given else None)


@class_group.command("create", help=M("class.help.create", "Create a class (or complete a half-created one): a "
                                                           "restricted project per learner."))
@argument("name", metavar=M("class.metavar.name", "NAME"))
@option("--learners", "count", type=int, default=None,
        help=M("class.help.create.learners", "Number of learners (learner01, learner02…)."))
@option("--roster", type=click.Path(path_type=Path, dir_okay=False), default=None,
        help=M("class.help.create.roster", "File with one learner name per line."))
@option("--lab", default=None, help=M("class.help.create.lab", "The lab the class does (default: the first lab, or "
                                                               "what the class recorded)."))
@option("--image", default=None,
        help=M("class.help.create.image", "Image of the golden instance (default: the local labkit/ image, "
                                          "else images:ubuntu/24.04)."))
@option("--pool", default=None, help=M("class.help.create.pool", "Storage pool (default: the default profile's)."))
@option("--listen", default=None,
        help=M("class.help.create.listen", "Turn on the HTTPS listener on ADDR:PORT "
                                           "(core.https_address). Never done by default."))
@option("--target", "targets", multiple=True,
        help=M("class.help.create.target", "Cluster member to place instances on; repeat to spread learners."))
@option("--limit-instances", type=int, default=None,
        help=M("class.help.create.limit_instances", "Instances per learner project (default 2)."))
@option("--limit-disk", default=None,
        help=M("class.help.create.limit_disk", "Disk per learner project (default 6GiB)."))
@option("--limit-memory", default=None,
        help=M("class.help.create.limit_memory", "Memory per learner project (default 2GiB)."))
@option("--limit-processes", type=int, default=None,
        help=M("class.help.create.limit_processes", "Processes per learner project (default 2000)."))
@option("--workspace", "workspace", default=None, metavar=M("class.metavar.workspace", "KEY=VALUE,..."),
        help=M("class.help.create.workspace", "Limits of each learner's workspace when the class is served, e.g. "
                                              "memory=768MiB,idle=45 (keys: cpu, memory, processes, disk, idle "
                                              "minutes; the others from the machine's and the class's size)."))
@option("--dry-run", is_flag=True, help=M("class.help.create.dry_run", "Print what would be done, change nothing."))
@click.pass_obj
@handles_errors
def create_command(opts: ClassOptions, name: str, count: int | None, roster: Path | None, lab: str | None,
                   image: str | None, pool: str | None, listen: str | None, targets: tuple[str, ...],
                   limit_instances: int | None, limit_disk: str | None, limit_memory: str | None,
                   limit_processes: int | None, workspace: str | None, dry_run: bool) -> None:
    from ..classroom import create as classroom
    from ..classroom.server_kinds import kinds_for
    from ..classroom.spec import numbered_learners, read_roster, spec_for

    if count is not None and roster is not None:
        raise UsageError(M("class.cli.learners_or_roster", "Give either --learners or --roster, not both."))
    learners = (numbered_learners(count) if count is not None
                else read_roster(roster) if roster else None)
    with _client() as client:
        spec = spec_for(client, name, learners=learners, folder=opts.folder(name), container=opts.container,
                        image=image, pool=pool, listen=listen, targets=targets, lab=lab or opts.lab,
                        instances=limit_instances,
                        disk=limit_disk, memory=limit_memory, processes=limit_processes)
        if dry_run:
            todo = classroom.plan(client=client, spec=spec)
            for line in todo or [M("class.cli.nothing_to_do", "Nothing to do: the class “{name}” is complete.",
                                   name=name)]:
                opts.say(line, err=False)
            opts.say(M("class.cli.dry_run", "Nothing was changed (--dry-run)."))
            return
        limits = _workspace_limits(client, name, len(spec.learners), workspace)  # refused before anything is made
        opts.say(M("class.cli.creating", "Preparing the class “{name}” (learners: {count})…", name=name,
                   count=len(spec.learners)))
        done = classroom.create(client=client, spec=spec, lang=opts.lang, progress=opts.tick)
        if workspace is not None:
            classroom.update_project(client, spec.class_project, {WORKSPACE_KEY: workspace})
    opts.say(M("class.cli.created", "The class “{name}” is ready (learners: {count}) in {seconds} s. Their "
                                    "access folders are in {folder}.",
               name=name, count=len(done.ready), seconds=Number(done.seconds), folder=str(spec.folder / "learners")),
             err=False)
    for line in ways_in(name, done.address):
        opts.say(line, err=False)
    opts.say(limits.describe(), err=False)
    for kind in kinds_for(spec.lab):
        _say_remote_lines(opts, spec, kind, done.remote_lines.get(kind.server.id, {}))


def ways_in(name: str, address: str | None) -> list[Message]:
    """How learners reach the class, both ways: through the hub (`labkit class serve`, which needs no
    --listen: it reaches Incus on this machine itself), or with their access folder from their own
    machine (which needs the server to listen on the network)."""
    hub = M("class.cli.through_hub", "To serve the class in the browser, run “labkit class serve {name}”: it needs no "
                                     "--listen, and learners need nothing but a browser.", name=name)
    if address:
        return [M("class.cli.address_folder", "Learners who use their access folder from their own "
                                              "machine connect to {address}.", address=address), hub]
    return [hub, M("class.cli.no_address_folder", "The server does not listen on the network, which only learners "
                                                  "using their access folder from their own machine need: for them, "
                                                  "run this command again with --listen ADDR:PORT.")]


def _workspace_limits(client, name: str, learners: int, given: str | None):
    """The limits the class's workspaces will have when served: what this run gives, else what an earlier
    run recorded on the class project, over the defaults for the machine and the class's size."""
    from ..classroom.create import read_state
    from ..hub.workspace_limits import WorkspaceLimits

    stored = (read_state(client).projects.get(name) or {}).get("config") or {}
    return WorkspaceLimits.default_for(learners).with_text(given if given is not None else stored.get(WORKSPACE_KEY))


def _say_remote_lines(opts: ClassOptions, spec, kind: ClassServerKind, lines: dict[str, str | None]) -> None:
    """Each learner's line for a server the lab needs (also in their folder): a token works once."""
    opts.say(M("class.cli.server_lines", "To add {server}, each learner runs their own line once, with their access "
                                         "folder as INCUS_CONF (it is also in {file} in their folder; a token works "
                                         "once):", server=kind.server.title, file=kind.remote_file), err=False)
    for learner in spec.learners:
        line = lines.get(learner)
        click.echo(f"  {learner}: {line}" if line
                   else "  " + terminal(M("class.cli.snapshot_server_trusted",
                                          "{learner}: already added (their certificate is trusted there).",
                                          learner=learner), opts.lang))


@class_group.command("status", help=M("class.help.status", "One table, learners × steps, graded with the same "
                                                           "checks as `labkit check`."))
@argument("name", metavar=M("class.metavar.name", "NAME"))
@option("--json", "as_json", is_flag=True,
        help=M("class.help.status.json", "Print JSON (one object per refresh with --watch)."))
@option("--watch", is_flag=True, help=M("class.help.status.watch", "Refresh on every lifecycle event of the class."))
@option("--seconds", type=float, default=None, hidden=True,
        help=M("class.help.status.seconds", "With --watch: stop after this many seconds."))
@option("--stuck-minutes", type=click.FloatRange(min=0.5), default=DEFAULT_STUCK_MINUTES, show_default=True,
        help=M("class.help.status.stuck", "Mark a learner as stuck after this many minutes on one step."))
@click.pass_obj
@handles_errors
def status_command(opts: ClassOptions, name: str, as_json: bool, watch: bool, seconds: float | None,
                   stuck_minutes: float) -> None:
    from ..classroom import report as views
    from ..classroom import status as cs

    stuck_after = timedelta(minutes=stuck_minutes)

    tty = sys.stdout.isatty() and not as_json

    def show(status: cs.ClassStatus) -> None:
        if as_json:
            data = views.status_json(status, opts.lang)
            click.echo(json.dumps(data, ensure_ascii=False) if watch else dumps(data))
        elif tty:
            from rich.console import Console

            Console().print(views.rich_status(status, opts.lang))
        else:
            click.echo(views.text_status(status, opts.lang) + ("\n" if watch else ""))
        sys.stdout.flush()

    if watch:  # a polite `kill` ends the watch like Ctrl+C, after the refresh being written
        interrupt_on(signal.SIGTERM)
    # GET and HEAD without httpx (incus/unix_http.py): a status asks only those, but for an exec in a rare tie.
    with _client(lean_reads=True) as client:
        if not watch:
            show(cs.class_status(client=client, name=name, folder=opts.folder(name), snapshot=opts.snapshot,
                                 lab=opts.lab, stuck_after=stuck_after))
            return
        try:
            if tty:
                from rich.live import Live

                with Live(auto_refresh=False) as live:
                    cs.watch(client=client, name=name, folder=opts.folder(name), snapshot=opts.snapshot,
                             seconds=seconds, show=lambda s: live.update(views.rich_status(s, opts.lang), refresh=True),
                             lab=opts.lab, stuck_after=stuck_after)
            else:
                cs.watch(client=client, name=name, folder=opts.folder(name), snapshot=opts.snapshot, seconds=seconds,
                         show=show, lab=opts.lab, stuck_after=stuck_after)
        except KeyboardInterrupt:
            return  # Ctrl+C (or a kill) is how a watch ends


@class_group.command("reset", help=M("class.help.reset", "Put one learner's lab back at the chapter's start "
                                                         "(journaled in the class folder)."))
@argument("name", metavar=M("class.metavar.name", "NAME"))
@argument("learner", metavar=M("class.metavar.learner", "LEARNER"))
@option("--yes", is_flag=True, help=M("class.help.reset.yes", "Do not ask for confirmation."))
@click.pass_obj
@handles_errors
def reset_command(opts: ClassOptions, name: str, learner: str, yes: bool) -> None:
    from ..classroom import reset as resetting

    folder = opts.folder(name)
    with _client() as client:
        plan = resetting.plan_reset(client, name, learner)
        if not yes:
            confirm(plan.question(),
                    M("class.cli.reset_needs_yes", "Nothing was changed. Confirm the reset, or pass --yes."), opts.lang)
        resetting.apply_reset(client, plan, folder, by=resetting.who(), via="command")
    opts.say(M("class.cli.reset_done", "The lab of {learner} is back at its start (a new attempt); the reset is "
                                       "journaled in {file}.",
               learner=learner, file=str(folder / resetting.RESETS_FILE)), err=False)


@class_group.command("report", help=M("class.help.report", "The class's grid, score, time per step and most common "
                                                           "mistakes, as HTML and/or CSV."))
@argument("name", metavar=M("class.metavar.name", "NAME"))
@option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
        help=M("class.help.report.html", "Write a self-contained HTML page."))
@option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
        help=M("class.help.report.csv", "Write a CSV for the LMS."))
@click.pass_obj
@handles_errors
def report_command(opts: ClassOptions, name: str, html_path: Path | None, csv_path: Path | None) -> None:
    from ..classroom.report_files import report_csv, report_html
    from ..classroom.status import class_status

    if html_path is None and csv_path is None:
        raise UsageError(M("class.cli.report_needs_file", "Say what to write: --html FILE, --csv FILE, or both."))
    journals: dict = {}
    with _client() as client:
        status = class_status(client=client, name=name, folder=opts.folder(name), snapshot=opts.snapshot,
                              journals=journals, lab=opts.lab)
    for path, text in ((html_path, report_html), (csv_path, report_csv)):
        if path is not None:
            path.write_text(text(status, journals, opts.lang), encoding="utf-8")
            opts.say(M("class.cli.written", "Written: {path}", path=str(path)), err=False)


@class_group.command("destroy", help=M("class.help.destroy", "Remove the class: projects, instances, certificates, "
                                                             "golden instance, access folders."))
@argument("name", metavar=M("class.metavar.name", "NAME"))
@option("--yes", is_flag=True, help=M("class.help.destroy.yes", "Do not ask for confirmation."))
@click.pass_obj
@handles_errors
def destroy_command(opts: ClassOptions, name: str, yes: bool) -> None:
    from ..classroom import create as classroom
    from ..classroom import destroy as destroying
    from ..hub import teardown

    folder = opts.folder(name)
    with _client() as client:
        if not yes:
            learners = [p for p in classroom.read_state(client).class_projects(name)
                        if p["config"].get(ROLE_KEY) == "learner"]
            question = M("class.cli.destroy_confirm", "This removes the class “{name}”: {count} learner projects with "
                                                      "their instances and snapshots, their certificates, the golden "
                                                      "instance, the learners' workspaces with their notebooks, and "
                                                      "the access folders in {folder}. Continue?",
                         name=name, count=len(learners), folder=str(folder))
            confirm(question, M("class.cli.destroy_needs_yes", "Nothing was removed. Confirm, or pass --yes."),
                    opts.lang)
        started = time.monotonic()
        teardown.remove_hub(name, folder, progress=opts.tick)  # the hub first: no learner server outlives its project
        done = destroying.destroy(client=client, name=name, folder=folder, progress=opts.tick)
        teardown.remove_unused_images(client, progress=opts.tick)
    opts.say(M("class.cli.destroyed", "The class “{name}” is gone: {projects} projects and {certificates} "
                                      "certificates removed in {seconds} s.",
               name=name, projects=len(done.projects), certificates=done.certificates,
               seconds=Number(time.monotonic() - started)), err=False)
    if done.listener_off:
        opts.say(M("class.cli.listener_off", "The HTTPS listener this class had turned on is off again."), err=False)
    for server, removed, missing in done.there:
        if removed is not None:
            opts.say(M("class.cli.destroyed_there", "On {server}: {projects} projects, {certificates} certificates "
                                                    "and {tokens} unused tokens removed.", server=server.title,
                       projects=len(removed.projects), certificates=removed.certificates, tokens=removed.tokens),
                     err=False)
        if missing is not None:
            opts.say(M("class.cli.nothing_there", "Nothing was removed on {server}: {reason}", server=server.title,
                       reason=missing))


@class_group.command("serve", help=M("class.help.serve", "Run JupyterHub in front of the class: one login and one "
                                                         "JupyterLab per learner, a dashboard for you."))
@argument("name", metavar=M("class.metavar.name", "NAME"))
@option("--listen", default="127.0.0.1:8000", show_default=True,
        help=M("class.help.serve.listen", "Where the hub answers browsers (ADDR:PORT)."))
@option("--ssl-cert", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
        help=M("class.help.serve.ssl_cert", "Serve HTTPS with this certificate (PEM)."))
@option("--ssl-key", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
        help=M("class.help.serve.ssl_key", "The certificate's private key (PEM)."))
@click.pass_obj
@handles_errors
def serve_command(opts: ClassOptions, name: str, listen: str, ssl_cert: Path | None, ssl_key: Path | None) -> None:
    from ..hub import serve

    if bool(ssl_cert) != bool(ssl_key):
        raise UsageError(M("hub.cli.ssl_pair", "Give both --ssl-cert and --ssl-key, or neither."))
    serve.parse_listen(listen)
    with _client() as client:
        state = serve.prepare(client=client, cls=name, folder=opts.folder(name), lang=opts.lang, say=opts.say)
        sys.exit(serve.run(client=client, state=state, cls=name, listen=listen, lang=opts.lang,
                           say=lambda m: opts.say(m, err=False), ssl_cert=ssl_cert, ssl_key=ssl_key))


@class_group.command("credentials",
                     help=M("class.help.credentials", "The logins and passwords of the class's hub "
                                                      "(learners and instructor)."))
@argument("name", metavar=M("class.metavar.name", "NAME"))
@option("--json", "as_json", is_flag=True,
        help=M("class.help.credentials.json", "Print a JSON list of {learner, login, password, url}."))
@option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
        help=M("class.help.credentials.html", "Write a printable sheet, one card per learner."))
@option("--lang", "card_lang", type=click.Choice(["fr", "en"]), default=None,
        help=M("class.help.credentials.lang", "Language of the sheet (default: the class's)."))
@click.pass_obj
@handles_errors
def credentials_command(opts: ClassOptions, name: str, as_json: bool, html_path: Path | None,
                        card_lang: str | None) -> None:
    from ..hub import credentials

    cards = credentials.read(opts.folder(name), name)
    lang = card_lang or cards.lang
    if html_path is not None:
        written = credentials.write_sheet(html_path, credentials.sheet_html(cards, lang))
        opts.say(M("class.cli.written_private", "Written, readable by you alone: {path}. It holds every password of "
                                                "the class: hand the cards out, then delete it.", path=str(written)),
                 err=False)
    if as_json:
        click.echo(json.dumps(credentials.as_json(cards), ensure_ascii=False, indent=2))
    elif html_path is None:
        click.echo(credentials.as_text(cards, lang))
