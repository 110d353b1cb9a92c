"""`labkit setup`: from a bare Debian or Ubuntu machine to a running lab instance.

Idempotent by construction: every phase first looks at what is there and only does
what is missing, so a second run changes nothing and takes seconds.
"""
from __future__ import annotations

import subprocess
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Callable, Protocol

from ..errors import IncusAccessDenied, IncusUnavailable, LabkitError, SetupError, UsageError
from ..grading import journal as journal_mod
from ..grading.contract import INSTANCE_PARAM
from ..i18n import M, Message, Number
from ..incus import instances
from ..incus.client import ADMIN_GROUP, IncusClient, find_endpoint
from ..labs import CHAPTERS, DEFAULT_LAB, chapter_named
from ..labs.baseline import record_baseline
from ..paths import state_dir
from ..provision import daemon
from ..provision.aptsources import find_debian_mirror, own_codename
from ..provision.image import LOCAL_ALIAS_PREFIX, REMOTE_IMAGE, find_image, import_image, local_images
from ..provision.image_build import build_debian_image, default_cache_dir
from ..provision.install import detect_distro, incus_install_plan, install_packages, is_root
from ..provision.storage import ensure_root_disk, ensure_storage
from .recorder_config import Watch
from .recorder_service import ensure_running
from .session import chapter_params

REMOTE_PROBE_SECONDS = 5
# confirm(question, refusal, lang): returns when the user agrees, raises UsageError(refusal) otherwise.
Confirm = Callable[[Message, Message, str], None]


class ShowsPhases(Protocol):
    """How setup's phases are shown (cli/phases.py: a spinner on a terminal, a line on a pipe): passed
    in by the command line, so this layer neither prints nor picks a console."""

    rows: list[tuple[str, float, str]]  # (title, seconds, detail) of each phase done

    def phase(self, title: Message) -> AbstractContextManager[list[Message]]: ...

    def say(self, message: Message) -> None: ...


def run_setup(*, lang: str, project: str | None, image: str | None, recreate: bool, yes: bool, lab: str = DEFAULT_LAB,
              container: str | None = None, snapshot: str | None = None, journal: Path | None = None,
              recorder: bool = True, confirm: Confirm | None = None, phases: ShowsPhases) -> None:
    """Bring up the lab instance of the chapter `lab` (its own container name unless one is given).

    `confirm(question, refusal, lang)` asks before anything is destroyed (the command line's prompt,
    passed in: this layer does not print prompts); without it, only `yes` allows a rebuild.  `phases`
    shows each phase as it runs."""
    params = chapter_params(chapter_named(lab), container, snapshot)  # every name checked before any change
    container = params[INSTANCE_PARAM]
    log = (daemon.STATE_DIR if is_root() else state_dir()) / "setup.log"
    with phases.phase(M("setup.phase.incus", "Incus server")) as notes:
        client = _ensure_incus(log, notes, project)
    try:
        endpoint_is_admin = not client.endpoint.restricted_socket
        if endpoint_is_admin and _root_or_admin(client):
            with phases.phase(M("setup.phase.storage", "Storage and default profile")) as notes:
                pool = ensure_storage(client)
                ensure_root_disk(client, pool.pool)
                notes.append(M("setup.storage.created", "pool “{pool}” ({driver}) created.",
                               pool=pool.pool, driver=pool.driver) if pool.created
                             else M("setup.storage.pool", "pool “{pool}” ({driver}).",
                                    pool=pool.pool, driver=pool.driver))
        existing = client.instance_or_none(container)
        if existing is not None and recreate:
            _confirm_recreate(container, yes, lang, confirm)
            with phases.phase(M("setup.phase.delete", "Deleting the old instance")):
                instances.delete(client, container)
            existing = None
        if existing is None:
            with phases.phase(M("setup.phase.image", "Image")) as notes:
                source = _ensure_image(client, image, log, notes)
            with phases.phase(M("setup.phase.instance", "Lab instance “{container}”", container=container)) as notes:
                _launch(client, source, container, log)
                instances.wait_booted(client, container)
                # Before the learner's first snapshot, so a restore keeps it (baseline.py).
                record_baseline(client, container)
                notes.append(M("setup.instance.running", "running."))
        else:
            with phases.phase(M("setup.phase.instance", "Lab instance “{container}”", container=container)) as notes:
                notes.append(M("setup.instance.kept", "already exists ({status}); left as it is. Use "
                                                      "--recreate to rebuild it.", status=existing.get("status", "?")))
        if recorder:
            with phases.phase(M("setup.phase.recorder", "Event recorder")) as notes:
                notes.append(start_recorder(client, container, lab=lab, snapshot=snapshot, journal=journal))
    finally:
        client.close()
    total = sum(s for _, s, _ in phases.rows)
    phases.say(M("setup.done", "The lab is ready in {seconds} s: check it with “labkit doctor”, "
                               "then open the notebook.", seconds=Number(total)))


def start_recorder(client: IncusClient, container: str | None = None, *, lab: str = DEFAULT_LAB,
                   snapshot: str | None = None, journal: Path | None = None) -> Message:
    """Leave the event recorder running for this instance (recorder.py), with the chapter's params;
    tests start it the same way.

    It records for the other labs on the same instance too (their default params and journals): a
    learner who set up the first lab and goes on with the second in a terminal has its copy's
    `instance-migrated` event, which only a listener sees, recorded as well."""
    params = chapter_params(chapter_named(lab), container, snapshot)
    path = journal or journal_mod.default_path(lab, client.project, params[INSTANCE_PARAM])
    others = () if journal is not None else tuple(
        Watch(other.id, chapter_params(other, params[INSTANCE_PARAM]),
              str(journal_mod.default_path(other.id, client.project, params[INSTANCE_PARAM]).absolute()))
        for other in CHAPTERS.values() if other.id != lab)
    status = ensure_running(client.endpoint, lab, params, path, others=others)
    if status is None:
        return M("setup.recorder.remote", "not used with a remote server: the notebook "
                                          "records events itself, or run “labkit watch”.")
    if not status.connected:
        raise SetupError(M("setup.recorder.failed", "The event recorder did not start "
                                                    "listening. Its log is {log}.", log=str(status.log)))
    return M("setup.recorder.running", "running (PID {pid}, log in {log}).", pid=status.pid, log=str(status.log))


def _root_or_admin(client: IncusClient) -> bool:
    try:
        return client.server().get("auth") == "trusted"
    except LabkitError:
        return False


def _ensure_incus(log: Path, notes: list[Message], project: str | None) -> IncusClient:
    endpoint = find_endpoint(project)
    client = IncusClient(endpoint)
    try:
        client.server()
        notes.append(M("setup.incus.found", "found on {socket}.", socket=str(endpoint.socket)))
        return client
    except IncusAccessDenied:
        client.close()
        raise
    except IncusUnavailable:
        client.close()
    if not is_root():
        raise SetupError(M("setup.not_root", "No usable Incus server was found, and installing one needs root. "
                                             "Run “sudo labkit setup” (or “sudo .venv/bin/labkit setup”), then "
                                             "add yourself to the “{group}” group with "
                                             "“sudo usermod -aG {group} $USER” and open a new session.",
                           group=ADMIN_GROUP))
    log.parent.mkdir(parents=True, exist_ok=True)
    if not daemon.incus_installed():
        _install(log)
        notes.append(M("setup.incus.installed", "installed."))
    pid = daemon.start_daemon()
    if pid is not None:
        notes.append(M("setup.incus.started", "daemon started (PID {pid}, log in {log}).",
                       pid=pid, log=str(daemon.STATE_DIR / "incusd.log")))
    return IncusClient(find_endpoint(project))


def _install(log: Path) -> None:
    install_packages(incus_install_plan(detect_distro()), log)


def _ensure_image(client: IncusClient, image: str | None, log: Path, notes: list[Message]) -> str:
    if image:
        known = _remote_answers(image) if ":" in image else find_image(local_images(client), image) is not None
        if not known:
            raise SetupError(M("setup.unknown_image", "The image “{image}” was not found: it is neither "
                                                      "a local alias nor a fingerprint (see "
                                                      "“incus image list”), nor an image of a reachable "
                                                      "remote (REMOTE:ALIAS, e.g. images:ubuntu/24.04).", image=image))
        notes.append(M("setup.image.given", "{image}.", image=image))
        return image
    if _remote_answers(REMOTE_IMAGE):
        notes.append(M("setup.image.remote", "{image} from the image server.", image=REMOTE_IMAGE))
        return REMOTE_IMAGE
    return _local_debian_image(client, log, notes)


def _local_debian_image(client: IncusClient, log: Path, notes: list[Message]) -> str:
    suite = own_codename()
    alias = f"{LOCAL_ALIAS_PREFIX}debian-{suite}"
    if alias in local_images(client):
        notes.append(M("setup.image.cached", "{alias} (already imported).", alias=alias))
        return alias
    if not is_root():
        raise SetupError(M("setup.image.needs_root", "No image server answers and building the local Debian "
                                                     "image needs root: run “sudo labkit setup” once."))
    meta, rootfs = build_debian_image(find_debian_mirror(), suite, default_cache_dir(suite), log)
    import_image(meta, rootfs, alias, log, images=lambda: local_images(client), project=client.project)
    notes.append(M("setup.image.built", "{alias} built with debootstrap (no image server answered).", alias=alias))
    return alias


def _remote_answers(image: str) -> bool:
    try:
        result = subprocess.run(["incus", "image", "info", image], stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=REMOTE_PROBE_SECONDS)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return result.returncode == 0


def _launch(client: IncusClient, image: str, container: str, log: Path) -> None:
    cmd = ["incus", "launch", image, container, "--project", client.project]
    with open(log, "ab") as out:
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        # A failed launch must not leave a broken instance behind.
        if client.instance_or_none(container) is not None:
            instances.delete(client, container)
        raise SetupError(M("setup.launch_failed", "Creating the instance “{container}” from {image} failed. "
                                                  "The reason is at the end of {log}; nothing was left behind.",
                           container=container, image=image, log=str(log)))


def _confirm_recreate(container: str, yes: bool, lang: str, confirm: Confirm | None) -> None:
    if yes:
        return
    refusal = M("setup.recreate.needs_yes", "Nothing was deleted. Confirm the rebuild, or pass --yes.")
    if confirm is None:
        raise UsageError(refusal)
    confirm(M("setup.recreate.confirm", "This deletes the instance “{container}” with its "
                                        "snapshots and files, then creates it again. Continue?", container=container),
            refusal, lang)
