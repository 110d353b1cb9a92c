"""A server a chapter declares reaches class creation, the hub and the command line through its
kind (classroom/server_kinds.py), never by name: a kind registered for a new server is used as the
snapshot server's is, and a declared server with no kind is refused in both languages."""
from __future__ import annotations

import types
from pathlib import Path

import pytest

from labkit.classroom import server_kinds
from labkit.errors import ServerMissing
from labkit.hub import serve
from labkit.hub.credentials import Cards, as_json, as_text, sheet_html
from labkit.hub.state import Account, Accounts
from labkit.hub.workspaces import Wiring, devices
from labkit.i18n import M
from labkit.servers import SNAPSHOT_SERVER, Server

MIRROR = Server("image-mirror", M("test.servers.mirror", "the image mirror"))
LINE = "incus remote add mirror 0.0.0.0:9443 --token <t> --accept-certificate"


class MirrorSide:
    """A second kind, as a chapter author would register one."""

    server = MIRROR
    remote_file = "image-mirror.txt"

    def learner_address(self) -> str:
        return "0.0.0.0:9443"

    def used_by(self, config: dict[str, str]) -> bool:
        return config.get("user.test.mirror") == "true"



@pytest.fixture
def mirror_lab(monkeypatch: pytest.MonkeyPatch) -> str:
    lab, chapter_named = types.SimpleNamespace(needs=(MIRROR,)), server_kinds.chapter_named
    monkeypatch.setattr(server_kinds, "chapter_named", lambda name: lab if name == "mirrored" else chapter_named(name))
    monkeypatch.setitem(server_kinds.KINDS, MIRROR.id, MirrorSide())
    return "mirrored"


def test_a_declared_server_with_no_kind_is_refused_in_both_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    lab = types.SimpleNamespace(needs=(MIRROR,))
    monkeypatch.setattr(server_kinds, "chapter_named", lambda name: lab)
    with pytest.raises(ServerMissing) as refused:
        server_kinds.kinds_for("mirrored")
    assert "“image-mirror”" in refused.value.render("en") and "«\u00a0image-mirror\u00a0»" in refused.value.render("fr")


def test_the_snapshot_server_is_a_registered_kind() -> None:
    assert server_kinds.kind_of(SNAPSHOT_SERVER).server == SNAPSHOT_SERVER
    assert [k.server for k in server_kinds.kinds_for("snapshot-server")] == [SNAPSHOT_SERVER]
    assert server_kinds.kinds_for("snapshots") == []


def test_workspaces_reach_every_declared_server_by_its_id(mirror_lab: str) -> None:
    addresses = serve.server_addresses(mirror_lab)
    assert addresses == (("image-mirror", "127.0.0.1:9443"),)  # a wildcard listener, reached on loopback
    found = devices(Wiring(api="127.0.0.1:8443", hub_port=1, servers=addresses), 2)
    assert found["image-mirror"]["connect"] == "tcp:127.0.0.1:9443"
    assert found["image-mirror"]["listen"] == "tcp:127.0.0.1:9443" and found["image-mirror"]["bind"] == "container"
    assert serve.server_addresses("snapshots") == ()


def test_logins_carry_the_line_of_every_kind_and_escape_it(mirror_lab: str, tmp_path: Path) -> None:
    (tmp_path / "learners" / "alice").mkdir(parents=True)
    (tmp_path / "learners" / "alice" / "image-mirror.txt").write_text(LINE + "\n")
    accounts = Accounts("ipw", {n: Account(n, n, "pw", f"ws-{n}") for n in ("alice", "bob")}, "fr", "http://h:8000/")
    cards = Cards("demo", accounts, tmp_path)
    rows = {r["learner"]: r for r in as_json(cards)}
    assert rows["alice"]["image_mirror"] == LINE and "image_mirror" not in rows["bob"]
    assert LINE in as_text(cards, "en")
    page = sheet_html(cards, "en")
    assert "The image mirror (run once, in a terminal)" in page and "--token &lt;t&gt;" in page


def test_the_command_line_names_the_server_and_gives_each_learner_their_line(mirror_lab: str, capsys) -> None:
    from labkit.cli.classes import ClassOptions, _say_remote_lines

    opts = ClassOptions(lang="en", container=None, snapshot=None, root=None)
    spec = types.SimpleNamespace(learners=("alice", "bob"))
    _say_remote_lines(opts, spec, server_kinds.KINDS[MIRROR.id], {"alice": LINE, "bob": None})
    out = capsys.readouterr()
    assert "To add the image mirror, each learner runs their own line once" in out.out + out.err
    assert f"alice: {LINE}" in out.out and "bob: already added" in out.out


def test_destroy_goes_where_the_class_lab_declares_or_else_where_a_mark_says(mirror_lab: str) -> None:
    from labkit.classroom.destroy import _kinds_used
    from labkit.keys import LAB_KEY, ROLE_KEY, TRUST_KEY

    learner = {"config": {ROLE_KEY: "learner", TRUST_KEY: "labkit:demo:alice"}}
    kinds = lambda *projects: [kind.server.id for kind in _kinds_used(list(projects))]  # noqa: E731
    # The snapshot server's mark (a trust name) is on every learner of a class with any server:
    # the class project's lab decides, so a mirror's class never reaches for a snapshot server.
    assert kinds({"config": {ROLE_KEY: "class", LAB_KEY: "mirrored"}}, learner) == ["image-mirror"]
    assert kinds({"config": {ROLE_KEY: "class", LAB_KEY: "snapshots"}}) == []
    assert kinds({"config": {ROLE_KEY: "class", LAB_KEY: "snapshot-server"}}, learner) == ["snapshot-server"]
    # The class project gone (a destroy cut short), or a lab this labkit lacks: the marks decide.
    assert kinds(learner) == ["snapshot-server"]
    assert kinds({"config": {ROLE_KEY: "class", LAB_KEY: "gone-lab"}}, learner) == ["snapshot-server"]


def test_each_declared_server_gets_the_learners_trust_name_under_its_param(mirror_lab: str) -> None:
    from labkit.classroom.info import ClassInfo

    trusted = {"alice": "labkit:demo:alice"}
    assert ClassInfo("demo", "c", {"alice": "demo-alice"}, lab="snapshot-server",
                     trust_names=trusted).learner_params() == {"alice": {"learner": "labkit:demo:alice"}}
    assert ClassInfo("demo", "c", {"alice": "demo-alice"}, lab="snapshots",
                     trust_names=trusted).learner_params() == {"alice": {}}
