"""The import graph of ``src/noveum_trace``: layers import downward only, and nothing cycles.

Every import counts: at module level, inside functions, under ``TYPE_CHECKING``. Each module
must be placed in ``LAYERS`` (a new module fails until it is), and no module imports the
package facade ``noveum_trace/__init__``: it imports the layer module that defines what it needs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "noveum_trace"
SRC = Path(__file__).resolve().parent.parent / "src"

# Bottom to top (docs/internals.md). A key ending in ".*" places a package and all below it.
LAYERS: dict[str, int] = {
    # 0 names, diagnostics, other libraries' internals
    "semconv": 0,
    "_version": 0,
    "_diagnostics.*": 0,
    "_compat.*": 0,
    # 1 policies and the file format
    "_config": 1,
    "privacy": 1,
    "pricing": 1,
    "reader": 1,
    "_render": 1,  # the span-tree and value rendering the CLI and the console exporter share
    # 2 the span engine
    "_core.*": 2,
    # 3 export
    "export.*": 3,
    # 4 wiring: what init() builds, and the public functions
    "_pipeline": 4,
    "_sigterm": 4,  # a multiprocessing child's flush before SIGTERM kills it
    "_api": 4,  # init, shutdown, flush, get_stats: what the facade re-exports
    "": 7,  # noveum_trace/__init__.py, the facade: imports anything, imported by nothing
    # 5 integrations
    "instrumentation.*": 5,
    "propagation": 5,
    # 6 tools
    "testing.*": 6,
    "cli.*": 6,
    "ui.*": 6,
}
NAMES = ["names", "policies", "engine", "export", "wiring", "integrations", "tools", "facade"]


def modules(src: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``src``."""
    found = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def layer_of(module: str) -> int | None:
    name = module.removeprefix(PACKAGE).removeprefix(".")
    if name in LAYERS:
        return LAYERS[name]
    for key, layer in LAYERS.items():
        prefix = key.removesuffix(".*")
        if key.endswith(".*") and (name == prefix or name.startswith(prefix + ".")):
            return layer
    return None


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its source.

    ``from noveum_trace import X`` imports ``noveum_trace.X`` when X is a submodule, else it
    takes a name from the facade; the same holds one package down."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = package[: len(package) - drop] if drop else package
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def problems(src: Path) -> list[str]:
    """Every rule broken under ``src``: unplaced modules, upward imports, facade imports,
    cycles."""
    found = modules(src)
    known = set(found)
    graph = {name: imports(name, path, known) - {name} for name, path in found.items()}
    out = [
        f"{name}: not placed in a layer (add it to LAYERS)"
        for name in found
        if layer_of(name) is None
    ]
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            if target == PACKAGE:
                out.append(f"{name} imports the facade {PACKAGE}; import the defining module")
                continue
            here, there = layer_of(name), layer_of(target)
            if here is not None and there is not None and there > here:
                out.append(
                    f"{name} (layer {here}, {NAMES[here]}) imports {target} "
                    f"(layer {there}, {NAMES[there]}): upward"
                )
    out.extend(f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, set(group)) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    path, seen, node = [start], {start}, start
    while True:  # walk inside the group until a module repeats
        node = min(target for target in graph[node] if target in group)
        if node in seen:
            return [*path[path.index(node) :], node]
        path.append(node)
        seen.add(node)


def test_layers_import_downward_without_cycles() -> None:
    found = problems(SRC)
    assert not found, "\n".join(found)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (  # an upward import hidden under TYPE_CHECKING
            {
                "_core/__init__.py": "",
                "_core/span.py": "if TYPE_CHECKING:\n    from noveum_trace._pipeline import P\n",
                "_pipeline.py": "",
            },
            "noveum_trace._core.span (layer 2, engine) imports noveum_trace._pipeline "
            "(layer 4, wiring): upward",
        ),
        (  # `from package import submodule`, inside a function
            {
                "export/__init__.py": "",
                "export/file.py": "def f():\n    from noveum_trace import instrumentation\n",
                "instrumentation/__init__.py": "",
            },
            "noveum_trace.export.file (layer 3, export) imports noveum_trace.instrumentation "
            "(layer 5, integrations): upward",
        ),
        (
            {"__init__.py": "def init(): pass\n", "cli/__init__.py": "import noveum_trace\n"},
            "noveum_trace.cli imports the facade noveum_trace; import the defining module",
        ),
        (
            {"__init__.py": "", "cli/__init__.py": "from noveum_trace import init\n"},
            "noveum_trace.cli imports the facade noveum_trace; import the defining module",
        ),
        (  # a cycle inside one layer, through a relative import
            {
                "privacy.py": "from . import pricing\n",
                "pricing.py": "import noveum_trace.privacy\n",
            },
            "import cycle: noveum_trace.pricing -> noveum_trace.privacy -> noveum_trace.pricing",
        ),
        (
            {"viewer.py": ""},
            "noveum_trace.viewer: not placed in a layer (add it to LAYERS)",
        ),
    ],
)
def test_the_check_catches(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    assert expected in problems(_tree(tmp_path, files))


def test_a_downward_import_is_fine(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "__init__.py": "from noveum_trace._pipeline import init\n",
            "_pipeline.py": "from noveum_trace import _config, semconv\n",
            "_config.py": "from noveum_trace.semconv import X\n",
            "semconv.py": "",
        },
    )
    assert problems(tree) == []
