"""The layers stay: a floor that imports nothing of the project, domains that import only the
floor and streams' contracts, a roof nothing imports, a lab in the roof only the lab imports; no
import cycle; no module a chapter long.

docs/architecture.md ("Layers") says what each layer may import and why. Every import counts,
the ones inside functions too: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from common.settings import PROJECT_ROOT

FLOOR = "common"
DOMAINS = ("streams", "producers", "alerts")
ROOF = "shockwatch"
# The roof's wing of demos, benchmarks and stand-ins: only the lab itself and the tests use it.
LAB = "shockwatch.lab"
# What producers/ and alerts/ may use of streams/: the records and the topics they carry,
# the dead-letter format and the scenario format. The detector and the worker are not theirs.
CONTRACTS = (
    "streams.records",
    "streams.topics",
    "streams.dlq",
    "streams.scenario",
    "streams.timing",
    "streams.instruments",
)
PACKAGES = (FLOOR, *DOMAINS, ROOF)
# Code that is not a library layer but must stay short as well (tools run as scripts).
TOOLS = ("scripts", "deploy")
MAX_LINES = 600


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path = PROJECT_ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            found[_module_name(path, root)] = path
    return found


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The project module ``name`` refers to (a name imported from a module resolves to it)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, source: str, modules: Mapping[str, Path]) -> set[str]:
    """The project modules ``source`` (module ``name``) imports, at any depth of the code."""
    found: set[str] = set()
    package = name if modules[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level-1
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != name:
                found.add(resolved)
    return found


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    return {name: imports_of(name, path.read_text(), modules) for name, path in modules.items()}


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def layer_violations(graph: Mapping[str, set[str]]) -> list[str]:
    """Every import that goes up a layer or across domains, as 'importer -> imported: why'."""
    problems = []
    for importer, imported in sorted(graph.items()):
        layer = _top(importer)
        for target in sorted(imported):
            top = _top(target)
            if layer == ROOF or top == layer:
                continue  # the roof may use everything; a part may use itself
            if top == ROOF:
                why = "nothing below the roof imports it"
            elif layer == FLOOR:
                why = "the floor imports nothing of the project"
            elif top == FLOOR or (layer in ("producers", "alerts") and _within(target, CONTRACTS)):
                continue
            else:
                why = "a domain imports only the floor and streams' contracts"
            problems.append(f"{importer} -> {target}: {why}")
    return problems


def lab_violations(graph: Mapping[str, set[str]]) -> list[str]:
    """Every import of the lab from outside it, as 'importer -> imported: why'."""
    return [
        f"{importer} -> {target}: only the lab and the tests import the lab"
        for importer, imported in sorted(graph.items())
        if not _within(importer, [LAB])
        for target in sorted(imported)
        if _within(target, [LAB])
    ]


def _reachable(graph: Mapping[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each group of modules that reach one another through imports (a cycle), sorted. The
    graph is a hundred modules: reachability from each is cheap and plain to read."""
    reach = {node: _reachable(graph, node) for node in graph}
    cycles = {
        tuple(sorted(other for other in reach[node] if node in reach.get(other, ())))
        for node in graph
        if node in reach[node]
    }
    return [list(c) for c in sorted(cycles)]


# -- the project as it is ---------------------------------------------------------------------
def test_no_layer_is_imported_from_below_and_domains_keep_to_contracts() -> None:
    graph = import_graph(project_modules())
    assert len(graph) > 50, "the walk found too few modules: is PROJECT_ROOT right?"
    assert layer_violations(graph) == []


def test_only_the_lab_imports_the_lab() -> None:
    assert lab_violations(import_graph(project_modules())) == []


def test_no_import_cycle_between_modules() -> None:
    assert import_cycles(import_graph(project_modules())) == []


def test_no_module_is_a_chapter() -> None:
    paths = [p for name in (*PACKAGES, *TOOLS) for p in (PROJECT_ROOT / name).rglob("*.py")]
    lengths = {str(p.relative_to(PROJECT_ROOT)): len(p.read_text().splitlines()) for p in paths}
    too_long = {path: n for path, n in lengths.items() if n > MAX_LINES}
    assert too_long == {}, f"modules over {MAX_LINES} lines: split them by what they hold"


# -- the checks catch what they are for -------------------------------------------------------
def test_the_checks_catch_an_upward_import_a_crossing_and_a_cycle() -> None:
    graph = {
        "common.settings": {"shockwatch.cli.main"},  # floor -> roof
        "common.kafka": {"streams.topics"},  # floor -> domain
        "streams.detection.score": {"common.settings"},  # fine
        "alerts.sample": {"streams.detection.detector"},  # domain -> another's internals
        "producers.sink": {"streams.records", "streams.topics"},  # contracts: fine
        "streams.app": {"alerts.metrics"},  # domain -> domain
        "shockwatch.cli.main": {"alerts.cli", "streams.app"},  # the roof: fine
        "streams.a": {"streams.b"},
        "streams.b": {"streams.a"},
    }
    assert layer_violations(graph) == [
        "alerts.sample -> streams.detection.detector: a domain imports only the floor and "
        "streams' contracts",
        "common.kafka -> streams.topics: the floor imports nothing of the project",
        "common.settings -> shockwatch.cli.main: nothing below the roof imports it",
        "streams.app -> alerts.metrics: a domain imports only the floor and streams' contracts",
    ]
    assert import_cycles(graph) == [["streams.a", "streams.b"]]


def test_the_lab_check_catches_production_code_using_the_lab() -> None:
    graph = {
        "shockwatch.lab.demo": {"shockwatch.lab.standin", "shockwatch.runs.runner"},  # fine
        "shockwatch.lab.bench.core": {"shockwatch.lab.bench.table"},  # the lab within: fine
        "shockwatch.local.ops": {"shockwatch.lab.standin"},  # infrastructure -> lab
        "shockwatch.cli.main": {"shockwatch.lab.demo"},  # the commands -> lab
        "alerts.notifier": {"shockwatch.lab.standin"},  # a domain -> lab
        "shockwatch.labels": {"common.settings"},  # a name that only starts like the lab
        "shockwatch.runs.runner": {"shockwatch.labels"},  # fine
    }
    assert lab_violations(graph) == [
        "alerts.notifier -> shockwatch.lab.standin: only the lab and the tests import the lab",
        "shockwatch.cli.main -> shockwatch.lab.demo: only the lab and the tests import the lab",
        "shockwatch.local.ops -> shockwatch.lab.standin: only the lab and the tests import the lab",
    ]


def test_function_level_and_relative_imports_count(tmp_path: Path) -> None:
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "__init__.py").write_text("")
    (tmp_path / "alerts" / "x.py").write_text(
        "def f():\n    from shockwatch.runs.report import build_report\n    from . import y\n"
    )
    (tmp_path / "alerts" / "y.py").write_text("")
    (tmp_path / "shockwatch").mkdir()
    (tmp_path / "shockwatch" / "report.py").write_text("")
    modules = {
        "alerts": tmp_path / "alerts" / "__init__.py",
        "alerts.x": tmp_path / "alerts" / "x.py",
        "alerts.y": tmp_path / "alerts" / "y.py",
        "shockwatch.runs.report": tmp_path / "shockwatch" / "report.py",
    }
    found = imports_of("alerts.x", modules["alerts.x"].read_text(), modules)
    assert found == {"shockwatch.runs.report", "alerts.y", "alerts"}
