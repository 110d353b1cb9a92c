"""The layers hold: no chapter's knowledge outside labkit/labs/, and a pure engine.

A third chapter should be one module in labkit/labs/ plus its notebook source.  That stays true
only while nothing else names a chapter's file, snapshot or step ids; this test reads every
string constant of the package (with `ast`, so comments do not count and docstrings do) and
fails on such a name, saying where it is.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from labkit.labs import CHAPTERS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "labkit"
# Where chapters live; everything else must take a chapter as a parameter.
CHAPTER_HOME = PACKAGE / "labs"
# The first chapter's file and snapshot: never in a string anywhere else, not even in a sentence.
NAMES = ("this_file.txt", "ubuntu-test-1")

# Step ids that are also words of Incus or of labkit's own interfaces.  Such a word is allowed in
# the files listed here, for the reason given, because it means that and not the step there; in
# any other file it fails like every other step id.  (A unique id, “touch” or “cleanup”, is
# allowed nowhere.)  When a use goes away, its entry must go too: the last test says so.
GENERIC = {
    "snapshot": {
        # The --snapshot option, kept so every command of the first lab works unchanged: it becomes
        # the chapter parameter of that name (both chapters have one).
        "labkit/entry.py": "the --snapshot option's value, read without click",
        "labkit/grading/contract.py": "the contract's name of the chapter's snapshot param (--snapshot)",
        # Output and file formats others read.
        "labkit/grading/render.py": "a field of `labkit check --json`",
        "labkit/grading/journal.py": "a field of the journal's format, and of Incus events' context",
        "labkit/classroom/report.py": "a field of `labkit class report --json`",
        "labkit/cli/classes.py": "the parent command's --snapshot option, passed on",
        # Incus's own key.
        "labkit/incus/events.py": "the `snapshot` key of an Incus lifecycle event's context",
    },
    "start": {"labkit/classroom/create.py": "an Incus state action (PUT /1.0/instances/NAME/state)",
              "labkit/hub/workspaces.py": "an Incus state action (PUT /1.0/instances/NAME/state)"},
    "stop": {"labkit/incus/instances.py": "an Incus state action (PUT /1.0/instances/NAME/state)",
             "labkit/classroom/create.py": "an Incus state action (PUT /1.0/instances/NAME/state)",
             "labkit/classroom/projects.py": "an Incus state action (PUT /1.0/instances/NAME/state)",
             "labkit/hub/workspaces.py": "an Incus state action (PUT /1.0/instances/NAME/state)"},
    # The second lab's ids (snapshot-server) that are Incus words too.
    "copy": {"labkit/provision/image_build.py": "an Incus image template trigger (“when”: create, copy)",
             "labkit/classroom/create.py": "an Incus instance source type (“source”: {“type”: “copy”})"},
    "remote": {"labkit/app/doctor.py": "the id of doctor's check of the client's Incus remote",
               "labkit/provision/second_server.py": "a key of the snapshot server's configuration file"},
}


def step_ids() -> set[str]:
    return {step for chapter in CHAPTERS.values() for step in chapter.step_ids}


@lru_cache(maxsize=None)
def constants(path: Path) -> tuple[tuple[int, str], ...]:
    """Every string constant of a module (f-string parts included), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return tuple((node.lineno, node.value) for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str))


def modules_outside_labs() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if CHAPTER_HOME not in p.parents)


def offenders() -> list[str]:
    ids, found = step_ids(), []
    for path in modules_outside_labs():
        name = path.relative_to(ROOT).as_posix()
        for line, text in constants(path):
            named = [n for n in NAMES if n in text]
            if text in ids and name not in GENERIC.get(text, {}):
                named.append(f"step id {text!r}")
            found.extend(f"{name}:{line}: {what}" for what in named)
    return found


def test_no_chapter_knowledge_outside_labs() -> None:
    found = offenders()
    assert not found, ("These files name a chapter's file, snapshot or step: take it from the chapter "
                       "(labkit.labs.chapter_named(lab), its defaults, params and step_ids) instead:\n  "
                       + "\n  ".join(found))


def test_the_scan_sees_what_it_must_refuse() -> None:
    # Guards the guard: the chapter module itself names all of them, so the scan must find them there.
    own = {text for _, text in constants(CHAPTER_HOME / "snapshots" / "steps.py")}
    assert any("this_file.txt" in text for text in own)
    assert {"touch", "cleanup", "restore"} <= own
    assert {"touch", "cleanup"} <= step_ids()


def test_every_allowed_generic_use_is_still_there() -> None:
    ids = step_ids()
    stale = [f"{file}: {word!r}" for word, files in GENERIC.items() if word in ids
             for file in files if not (ROOT / file).exists() or word not in {t for _, t in constants(ROOT / file)}]
    assert not stale, "Allowed uses that are gone (remove them from GENERIC):\n  " + "\n  ".join(stale)


def test_the_engine_loads_no_network_client() -> None:
    """`import labkit.grading.engine` must stay pure: checks are replayed where no daemon is."""
    code = ("import json, sys, labkit.grading.engine\n"
            "print(json.dumps({'file': labkit.__file__, 'modules': sorted(sys.modules)}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this tree, not another checkout's editable install
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout)
    assert Path(answer["file"]).parent == PACKAGE and "labkit.grading.engine" in answer["modules"]
    network = [m for m in answer["modules"] if m.split(".")[0] in ("httpx", "websockets", "httpcore")]
    assert not network, f"labkit.grading.engine loads {network}"


# The layers, lowest first.  A module may import its own folder and the layers below its own, never a
# layer above nor a peer folder of its layer: the pure engine knows no chapter, a chapter no session,
# provisioning no command line.  Every folder of labkit/ and every top-level module is in one layer
# (the next test says so); the modules of the first layer, and of the last, may import each other.
LAYERS = (
    ("errors", "i18n", "keys", "paths", "pools", "servers", "terminal"),  # the base every layer uses
    ("incus",),                    # Incus access
    ("provision",),                # the daemon, storage, images, the snapshot server
    ("grading",),                  # the pure engine, the chapter contract, the journal, rendering
    ("labs",),                     # the chapters
    ("app",),                      # a learner's session, setup, doctor, the event recorder
    ("notebooks", "classroom"),    # the notebooks; classes
    ("hub",),                      # `labkit class serve`
    ("cli",),                      # the command line
    ("entry", "__main__", "__init__"),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """labkit.grading.engine -> grading; labkit.errors -> errors; labkit -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def units() -> set[str]:
    return {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
            if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}


def reaching_up(path: Path) -> list[str]:
    mine = unit_of(".".join(path.relative_to(ROOT).with_suffix("").parts))
    wrong = []
    for name in sorted(imports_of(path)):
        other = unit_of(name)
        if other == mine or RANK[mine] == RANK[other] in (0, len(LAYERS) - 1):
            continue
        if RANK[other] >= RANK[mine]:
            wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    return wrong


def test_every_folder_and_module_has_a_layer() -> None:
    assert units() == set(RANK), f"not in LAYERS: {sorted(units() - set(RANK))}; gone: {sorted(set(RANK) - units())}"


def imports_of(path: Path) -> set[str]:
    """The labkit modules a file imports (relative imports resolved), at any depth of the file: for
    `from P import a`, both P and P.a."""
    return {name for module, aliases in statements_of(path) for name in (module, *(f"{module}.{a}" for a in aliases))
            if name.split(".")[0] == "labkit"}


def statements_of(path: Path, root: Path = ROOT) -> frozenset[tuple[str, tuple[str, ...]]]:
    """Each import of a file as (module, names imported from it): `import X` is (X, ())."""
    package = path.relative_to(root).with_suffix("").parts[:-1]
    if path.name == "__init__.py":
        package = path.relative_to(root).parts[:-1]
    return statements_in(package, path.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def statements_in(package: tuple[str, ...], text: str) -> frozenset[tuple[str, tuple[str, ...]]]:
    """statements_of's answer for one text: three tests scan the same 120 modules, a planted file is new text."""
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            # `from .. import classroom` imports a module by its alias name.
            found.add((".".join(base + ([node.module] if node.module else [])), tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Import):
            found |= {(alias.name, ()) for alias in node.names}
    return frozenset(found)


def test_no_layer_imports_one_above_it() -> None:
    wrong = [line for path in sorted(PACKAGE.rglob("*.py")) for line in reaching_up(path)]
    assert not wrong, "A lower layer reaches up:\n  " + "\n  ".join(wrong)


def test_the_layer_scan_sees_a_relative_import(tmp_path: Path) -> None:
    # Guards the guard: the class status module does import the chapters, relatively.
    assert "labkit.labs" in imports_of(PACKAGE / "classroom" / "status.py")
    # from ..provision import quotas
    assert "labkit.provision.quotas" in imports_of(PACKAGE / "classroom" / "status.py")
    # And an engine module that imported a chapter, or a setup that imported the command line, is refused.
    planted = PACKAGE / "grading" / "_planted_for_test.py"
    planted.write_text("from ..labs import CHAPTERS\nfrom ..cli.errors import confirm\n", encoding="utf-8")
    try:
        assert reaching_up(planted) == ["labkit/grading/_planted_for_test.py imports labkit.cli.errors",
                                        "labkit/grading/_planted_for_test.py imports labkit.cli.errors.confirm",
                                        "labkit/grading/_planted_for_test.py imports labkit.labs",
                                        "labkit/grading/_planted_for_test.py imports labkit.labs.CHAPTERS"]
    finally:
        planted.unlink()


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """labkit's modules and the labkit modules each imports (a name imported from a package counts as
    the package, unless it is a module of it), TYPE_CHECKING imports included: a circle there is a
    circle in the design, even when Python never runs it."""
    names = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (root / "labkit").rglob("*.py")}

    def targets(path: Path) -> set[str]:
        found = set()
        for module, aliases in statements_of(path, root):
            modules = {f"{module}.{a}" for a in aliases} & names.keys()
            # `from . import texts` loads the module texts, not the package's __init__ (already loading).
            found |= modules | ({module} if not aliases or len(modules) < len(aliases) else set())
        return found & names.keys()

    return {name: targets(path) - {name} for name, path in names.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles (strongly connected components of more than one module), by Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    found = circles(module_graph())
    assert not found, f"import circles in labkit/: {found}"


def test_the_module_graph_counts_a_package_only_for_what_it_defines(tmp_path: Path) -> None:
    # `from . import journal` loads grading/journal.py, not grading/__init__.py; `from ..labs import
    # CHAPTERS` takes a name the package itself defines, so it runs labs/__init__.py.  Planted in a copy.
    shutil.copytree(PACKAGE, tmp_path / "labkit", ignore=shutil.ignore_patterns("__pycache__"))
    planted = tmp_path / "labkit" / "grading" / "_planted_for_graph.py"
    planted.write_text("from . import journal\nfrom ..labs import CHAPTERS\nimport labkit.i18n\n", encoding="utf-8")
    graph = module_graph(tmp_path)
    assert graph["labkit.grading._planted_for_graph"] == {"labkit.grading.journal", "labkit.labs", "labkit.i18n"}


def test_the_circle_scan_sees_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_comment_points_outside_the_repository() -> None:
    """Comments cite the repository's own docs (docs/architecture.md, docs/incus-facts.md), never a file
    the repository does not hold; and the docs they cite exist."""
    cited, outside = set(), []
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "scripts").rglob("*.py"),
                        *(ROOT / "bench").rglob("*.py")]):
        text = path.read_text(encoding="utf-8")
        if "design" + ".md" in text and path.name != "test_layers.py":
            outside.append(path.relative_to(ROOT).as_posix())
        cited.update(re.findall(r"docs/[\w-]+\.md", text))
    assert not outside, f"these files cite a design file outside the repository: {outside}"
    assert cited and all((ROOT / doc).is_file() for doc in cited), sorted(cited)
