"""What a learner names reaches a terminal shown, never obeyed (labkit/terminal.py and its callers)."""
from __future__ import annotations

import io
from pathlib import Path

from labkit.classroom.info import ClassInfo
from labkit.classroom.status import isolation_warnings
from labkit.grading import render
from labkit.grading.engine import Result, Score, Status
from labkit.i18n import M
from labkit.incus.client import Endpoint, IncusClient
from labkit.provision import quotas
from labkit.terminal import LIMIT, printable, terminal

RAW = ("\x1b", "\x07", "\x9b", "\u202e")
NAME = "\x1b[31mred\x1b]0;title\x07\ttab\nline\x9b\u202e[red]markup"


def test_printable_writes_out_what_a_terminal_would_obey():
    shown = printable(NAME)
    assert not any(c in shown for c in RAW) and "\n" not in shown and "\t" not in shown
    assert shown == "\\x1b[31mred\\x1b]0;title\\x07\\ttab\\nline\\x9b\\u202e[red]markup"


def test_printable_keeps_french_typography_and_accents():
    text = "«\u00a0instantané\u00a0» à 3\u202fs"
    assert printable(text) == text


def test_printable_bounds_a_long_name():
    shown = printable("n" * 1000)
    assert len(shown) == LIMIT and shown.endswith("…")
    assert printable("x" * LIMIT) == "x" * LIMIT


def test_terminal_cleans_parameters_and_the_messages_inside_them_not_our_own_text():
    inner = M("test.inner", "has: {found}", found=NAME)
    text = terminal(M("test.outer", "Step\n{count} — {message}", count=3, message=inner), "en")
    assert text.startswith("Step\n3 — has: \\x1b[31m") and not any(c in text for c in RAW)
    assert inner.render("en").endswith(NAME)  # JSON and HTML keep the value whole


def _result() -> Result:
    message = M("test.wrong", "There is no snapshot named “{snapshot}”, but it has: {found}.",
                snapshot="s", found=NAME)
    return Result("snapshot", Status.FAILED, 0, 1, message, M("test.hint", "Rename “{first}”.", first=NAME),
                  (M("test.evidence", "Seen {name}.", name=NAME),))


def test_text_report_shows_names_escaped():
    text = render.text_report([_result()], Score(0, 1), {"snapshot": M("test.title", "Snapshot")}, "en")
    assert not any(c in text for c in RAW) and text.count("\n") == 4


def test_rich_report_keeps_its_own_colours_only_and_shows_markup_as_written():
    from rich.console import Console

    out = io.StringIO()
    render.rich_report(Console(file=out, force_terminal=True, color_system="truecolor", width=300),
                       [_result()], Score(0, 1), {"snapshot": M("test.title", "Snapshot")}, "en")
    text = out.getvalue()
    assert "\x1b[31m" not in text and "\x1b]" not in text and "\x07" not in text
    assert "[red]markup" in text


def test_isolation_warnings_name_the_learner_of_a_container_made_without_the_profile():
    info = ClassInfo("demo", "ubuntu-test", {"ana": "demo-ana", "bob": "demo-bob"})
    def made(project: str, name: str, isolated: str | None) -> dict:
        config = {} if isolated is None else {"security.idmap.isolated": isolated}
        return {"project": project, "name": name, "type": "container", "expanded_config": config}

    instances = [made("demo-ana", "ubuntu-test", "true"), made("demo-bob", "ubuntu-test", "true"),
                 made("demo-bob", "bare", None), made("demo-bob", "off", "false"), made("default", "other", None)]
    found = [w.render("en") for w in isolation_warnings(info, instances)]
    assert len(found) == 2 and all(w.startswith("bob: the container") for w in found)
    assert "“bare”" in found[0] and "“off”" in found[1]


def test_quotas_say_nothing_about_what_they_cannot_see(tmp_path: Path):
    assert quotas.state(tmp_path) == "unknown"  # not btrfs
    client = IncusClient(Endpoint(tmp_path / "unix.socket", "default"))
    try:
        assert quotas.pool_path(client, "absent") is None
        assert quotas.check_counted(client, {"absent"}) == []
    finally:
        client.close()


def test_a_decimal_parameter_keeps_the_languages_decimal_mark():
    from labkit.i18n import Number

    message = M("class.cli.created", "The class “{name}” is ready (learners: {count}) in "
                                     "{seconds} s. Their access folders are in {folder}.",
                name="demo", count=3, seconds=Number(6.4062), folder="/tmp/x")
    assert "in 6.4 s" in terminal(message, "en") and "6,4\u00a0s" in terminal(message, "fr")


def test_alert_lines_show_what_a_learner_wrote_escaped_on_terminals_only():
    """An alert quotes user.labkit.* keys, which the learner writes: never raw on the instructor's terminal."""
    from datetime import datetime, timezone

    from labkit.classroom.report import alert_lines
    from labkit.classroom.status import ClassStatus, LearnerStatus
    from labkit.i18n import Message
    from labkit.labs import CHAPTERS

    chapter = CHAPTERS["snapshots"]
    forged = M("snap.identity.baseline_changed", "changed (generation {before} → {after})", before="12345678",
               after="\x1b[2J\x1b[H")
    results = [Result(s.id, Status.FAILED if s.id == "restore" else Status.NOT_VERIFIED, 0, s.points,
                      forged if s.id == "restore" else M("t", "t"), None, (),
                      "baseline_changed" if s.id == "restore" else None) for s in chapter.steps]
    status = ClassStatus(ClassInfo("demo", "ubuntu-test", {"bob": "demo-bob"}), chapter, "ubuntu-test-1",
                         [LearnerStatus("bob", "demo-bob", results, Score(0, 12), None)], datetime.now(timezone.utc),
                         0.1)
    shown = alert_lines(status, "en")
    assert len(shown) == 1 and "\x1b" not in shown[0] and "\\x1b[2J" in shown[0]
    assert "\x1b[2J" in alert_lines(status, "en", Message.render)[0]  # HTML escapes it its own way
    assert status.most_common("restore")[0].diagnosis == "baseline_changed"
