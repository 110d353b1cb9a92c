"""The hub's logins for the instructor: JSON, a terminal listing, and a printable sheet.

The sheet is one self-contained HTML page (no script, no external asset), one card per
learner with the URL, login and password, in the class language, cut along the dashes; the
instructor's card comes last, alone on a page of its own (it opens the dashboard, not a
notebook, and is not handed out with the others).
"""
from __future__ import annotations

import errno
import html
import os
from dataclasses import dataclass
from pathlib import Path

from ..classroom.server_kinds import KINDS
from ..classroom.server_side import ClassServerKind, remote_line
from ..classroom.spec import validate_class_name
from ..errors import UsageError
from ..i18n import M
from .state import INSTRUCTOR, Accounts, HubState


@dataclass(frozen=True)
class Cards:
    name: str
    accounts: Accounts
    # The class folder: a lab that needs another server left there each learner's line for it.
    folder: Path | None = None

    def remote_lines(self, learner: str) -> dict[str, str]:
        """By field (server_field), the line of each server the learner's folder has one for."""
        if self.folder is None:
            return {}
        bundle = self.folder / "learners" / learner
        return {server_field(kind): line for kind in KINDS.values() if (line := remote_line(kind, bundle))}

    @property
    def lang(self) -> str:
        return self.accounts.lang

    @property
    def url(self) -> str:
        return self.accounts.url or "http://localhost:8000/"


def read(folder: Path, name: str) -> Cards:
    validate_class_name(name)
    accounts = HubState(folder).read_accounts()
    if accounts is None:
        raise UsageError(M("hub.credentials.none", "The class “{name}” has no logins yet: they are made the first time "
                                                   "you run “labkit class serve {name}” (look in {folder} if you "
                                                   "created the class with --dir).", name=name, folder=str(folder)))
    return Cards(name, accounts, folder)


def server_field(kind: ClassServerKind) -> str:
    """A server's field in a login's row: its id as a name (`snapshot_server`)."""
    return kind.server.id.replace("-", "_")


def as_json(cards: Cards) -> list[dict[str, str]]:
    """One row per login; a learner's row holds their line for each server the lab declares."""
    rows = [{"learner": a.learner, "login": a.learner, "password": a.password, "url": cards.url}
            | cards.remote_lines(a.learner) for a in cards.accounts.learners.values()]
    return rows + [{"learner": INSTRUCTOR, "login": INSTRUCTOR, "password": cards.accounts.instructor_password,
                    "url": cards.url + "services/labkit/"}]


def as_text(cards: Cards, lang: str) -> str:
    head = M("hub.credentials.head", "Class “{name}”, at {url}", name=cards.name, url=cards.url).render(lang)
    width = max([len(INSTRUCTOR), *(len(a.learner) for a in cards.accounts.learners.values())])
    lines = [head, ""]
    for row in as_json(cards):
        lines.append(f"{row['login'].ljust(width)}  {row['password']}")
        lines += [f"{' ' * width}  {row[field]}" for field in _server_fields() if row.get(field)]
    return "\n".join(lines)


STYLE = """
body { font-family: "DejaVu Sans", sans-serif; margin: 1cm; color: #111; }
h1 { font-size: 14pt; }
.cards { display: grid; grid-template-columns: repeat(2, 1fr); gap: 0; }
.card { border: 1px dashed #555; padding: 0.5cm; break-inside: avoid; }
.card h2 { font-size: 13pt; margin: 0 0 0.3cm; }
.card dt { font-size: 9pt; color: #444; }
.card dd { font-family: "DejaVu Sans Mono", monospace; font-size: 12pt; margin: 0 0 0.2cm; }
.card p { font-size: 9pt; margin: 0.2cm 0 0; }
.instructor { break-before: page; page-break-before: always; margin-top: 1cm; max-width: 12cm; }
.instructor .card { border: 2px solid #111; }
@media print { body { margin: 0.5cm; } h1 { display: none; } .instructor { margin-top: 0; } }
"""


INSTRUCTOR_ROLE = M("hub.credentials.instructor", "Instructor")
INSTRUCTOR_NOTE = M("hub.credentials.instructor_note", "Open the address in a browser and log in: the dashboard of the "
                                                       "class “{name}” opens, with every learner's progress, their "
                                                       "reset buttons and the reports. This card is yours alone: do "
                                                       "not hand it out with the learners' cards.")


def sheet_html(cards: Cards, lang: str) -> str:
    e = html.escape
    labels = {key: message.render(lang) for key, message in (
        ("address", M("hub.credentials.address", "Address")), ("login", M("hub.credentials.login", "Login")),
        ("password", M("hub.credentials.password", "Password")))}
    for field, kind in _server_fields().items():
        label = M("hub.credentials.server_line", "{server} (run once, in a terminal)", server=kind.server.title)
        labels[field] = (text := label.render(lang))[:1].upper() + text[1:]
    note = M("hub.credentials.note", "Open the address in a browser and log in: your notebook opens by itself. "
                                     "Keep this card to yourself.").render(lang)
    title = M("hub.credentials.title", "labkit — class “{name}”: logins", name=cards.name).render(lang)
    *learners, instructor = as_json(cards)  # the instructor's row comes last
    items = [_card(row, e(row["learner"]), labels, note) for row in learners]
    own = _card(instructor, e(INSTRUCTOR_ROLE.render(lang)), labels, INSTRUCTOR_NOTE.bind(name=cards.name).render(lang))
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{e(title)}</h1>"
            f'<div class="cards">{"".join(items)}</div>'
            f'<div class="instructor">{own}</div></body></html>\n')


def _card(row: dict[str, str], heading: str, labels: dict[str, str], note: str) -> str:
    e = html.escape
    fields = "".join(f"<dt>{e(labels[k])}</dt><dd>{e(row[v])}</dd>" for k, v in (
        ("address", "url"), ("login", "login"), ("password", "password"), *((f, f) for f in _server_fields()))
        if v in row)
    return f'<section class="card"><h2>{heading}</h2><dl>{fields}</dl><p>{e(note)}</p></section>'


def _server_fields() -> dict[str, ClassServerKind]:
    return {server_field(kind): kind for kind in KINDS.values()}


def write_sheet(path: Path, text: str) -> Path:
    """Write the sheet for its owner alone (0600), only as a new file: never through a link or over a
    file that is already there, which somebody else may have put in the way (a shared /tmp)."""
    try:  # O_EXCL refuses any existing name, a link (dangling or not) included
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ELOOP):
            raise UsageError(M("hub.credentials.exists", "{path} already exists: labkit writes the passwords only into "
                                                         "a new file. Choose another name, or remove that file first.",
                               path=str(path))) from None
        raise UsageError(M("hub.credentials.unwritable", "{path} cannot be written: {detail}", path=str(path),
                           detail=exc.strerror or str(exc))) from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path.resolve()
