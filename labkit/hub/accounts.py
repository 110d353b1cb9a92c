"""One Unix account per learner, made and removed by labkit, with a home holding every
lab's notebook in the class language and a private copy of the learner's access folder.

Accounts are named `lk-<class>-<learner>` (at most 32 characters, what useradd allows),
carry `labkit <class> <learner>` as their comment (how `destroy` finds them even without
the class folder), get no password (the hub checks passwords, nobody logs in over SSH),
and are in no group but their own: not `incus-admin`, so the daemon's admin socket is
closed to them.  Homes live under /home/labkit/<class>/, each 0700.
"""
from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ..incus import certs
from ..errors import SetupError
from ..i18n import M
from ..labs import CHAPTERS, DEFAULT_LAB, chapter_named
from .state import Account, Accounts, HubState, new_password

HOMES = Path("/home/labkit")
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ACCESS = "incus"  # the access folder's name in a learner's home (INCUS_CONF)


def unix_login(cls: str, learner: str) -> str:
    name = f"lk-{cls}-{learner}".lower().replace(".", "-")
    if len(name) <= 32:
        return name
    return f"{name[:25]}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def comment(cls: str, learner: str = "") -> str:
    return f"labkit {cls} {learner}"  # useradd refuses colons here


def class_homes(cls: str, base: Path = HOMES) -> Path:
    return base / cls


def ensure_accounts(state: HubState, cls: str, learners: tuple[str, ...], lang: str, base: Path = HOMES) -> Accounts:
    """The class's logins: kept from an earlier run (same passwords), completed for new learners."""
    accounts = state.read_accounts() or Accounts(new_password(), lang=lang)
    homes = class_homes(cls, base)
    homes.mkdir(parents=True, exist_ok=True)
    os.chmod(homes.parent, 0o755)
    os.chmod(homes, 0o711)  # learners may cross it to their home, not list it
    for learner in learners:
        account = accounts.learners.get(learner)
        if account is None:
            account = Account(learner, unix_login(cls, learner), new_password(), str(homes / learner))
            accounts.learners[learner] = account
        _ensure_user(account, comment(cls, learner))
    state.write_accounts(accounts)
    return accounts


def _ensure_user(account: Account, gecos: str) -> None:
    try:
        entry = pwd.getpwnam(account.login)
    except KeyError:
        entry = None
    if entry is not None and entry.pw_gecos != gecos:
        raise SetupError(M("hub.accounts.foreign_user", "The Unix account “{login}” already exists and was not made by labkit for this class: labkit never changes it. Remove it, or rename the learner.", login=account.login))
    if entry is None:
        # No subordinate id ranges: learners run no containers of their own, and 30 learners'
        # ranges exhausted /etc/subuid here ("Can't get unique subordinate UID range").
        _run(["useradd", "--create-home", "--home-dir", account.home, "--shell", "/bin/bash", "--user-group",
              "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "--comment", gecos, account.login])


def notebook_file(lab: str) -> str:
    """The file name of a lab's notebook, in a learner's home as in notebooks/<lang>/."""
    return f"{chapter_named(lab).notebook}.ipynb"


def prepare_home(account: Account, *, bundle: Path, remote: str, address: str, project: str, lang: str,
                 lab: str = DEFAULT_LAB) -> Path:
    """Every lab's notebook (each copied once: the learner's from then on; the class's `lab` must
    exist) and the learner's access folder (refreshed)."""
    entry = pwd.getpwnam(account.login)
    home = Path(entry.pw_dir)
    os.chmod(home, 0o700)
    wanted = NOTEBOOKS / lang / notebook_file(lab)
    if not wanted.exists():
        raise SetupError(M("hub.accounts.no_notebook", "The notebook {path} is missing: serve the class from a labkit "
                           "checkout (where “make notebooks” builds it).", path=str(wanted)))
    for name in dict.fromkeys(notebook_file(other) for other in CHAPTERS):
        source, notebook = NOTEBOOKS / lang / name, home / name
        if source.exists() and not notebook.exists():
            shutil.copyfile(source, notebook)
            os.chown(notebook, entry.pw_uid, entry.pw_gid)
    access = home / ACCESS
    certs.private_folder(access)
    certs.private_folder(access / "servercerts")
    from ..classroom.second_server import REMOTE_FILE

    for name in ("client.crt", "client.key", f"servercerts/{remote}.crt", REMOTE_FILE):
        if name != REMOTE_FILE or (bundle / name).exists():  # the line only for a lab with a snapshot server
            certs.write_private(access / name, (bundle / name).read_text(encoding="ascii"))
    if not config_current(access / "config.yml", remote, address, project):
        # Only then: a remote the learner added (the snapshot server's) stays across restarts.
        certs.write_private(access / "config.yml", certs.config_yml(remote, address, project))
    for path in [access, access / "servercerts", *access.rglob("*")]:
        # Never through a link the learner planted in their own folder: root would chown its target.
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return access


def config_current(path: Path, remote: str, address: str, project: str) -> bool:
    """Whether the learner's config.yml still sends them to the class server, in their project."""
    from ..incus import client_config

    try:
        # Bounded, no FIFO or device: the learner owns this file and root reads it.
        data = client_config.parse(client_config.read(path))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    entry = (data.get("remotes") or {}).get(remote) or {}
    return (data.get("default-remote") == remote and entry.get("addr") == certs.url(address)
            and entry.get("project") == project)


def class_users(cls: str) -> list[pwd.struct_passwd]:
    return [u for u in pwd.getpwall() if u.pw_gecos.startswith(comment(cls))]


def remove_accounts(cls: str, base: Path = HOMES) -> list[str]:
    """Every account this class made (found by its comment), its processes and its home."""
    removed = []
    for user in class_users(cls):
        _kill_processes(user.pw_uid)
        _run(["userdel", "--remove", user.pw_name], ok=(0, 12))  # 12: the home was already gone
        removed.append(user.pw_name)
    homes = class_homes(cls, base)
    if homes.exists():
        shutil.rmtree(homes, ignore_errors=True)
    if base.exists() and not any(base.iterdir()):
        base.rmdir()
    return removed


def _kill_processes(uid: int) -> None:
    """Everything still running as this account (their JupyterLab, kernels, terminals), by PID."""
    for attempt in range(50):
        pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM if attempt < 20 else signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def _owner(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None


def _run(argv: list[str], ok: tuple[int, ...] = (0,)) -> None:
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except FileNotFoundError:
        done = None
    if done is None or done.returncode not in ok:
        detail = done.stderr.strip() if done else f"{argv[0]}: command not found"
        raise SetupError(M("hub.accounts.command_failed", "Managing the learners' Unix accounts needs root and the “{command}” command, which failed: {detail}", command=argv[0], detail=detail))
