"""The import layering of the harness: files import one way, and no two files import each other.

The test reads every module of ``bench``, ``methods`` and ``protocols`` with ``ast`` (imports at
module level and inside functions alike; relative imports resolved), builds the graph of files and
asserts that it has no cycle and that no module imports one of a higher layer. The layers, top to
bottom (docs/ARCHITECTURE.md):

    cli -> launch -> job -> {methods, protocols} -> {text, data, store, grid} -> {models, flops, spec, registry}

A module may import its own layer or any lower one. Every module must be mapped to a layer below;
a new module that is not fails the test with its name.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "methods", "protocols")

# Top (0) to bottom. Each entry: a module name, or a package name ending in ".*" (the package's
# __init__ and everything under it). The most specific entry wins.
LAYERS: list[tuple[str, list[str]]] = [
    ("cli", ["bench.cli.*"]),
    ("launch", ["bench.launch"]),
    ("job", ["bench.job", "bench.job_flops", "bench.identity"]),
    ("methods, protocols", ["methods.*", "protocols.*"]),
    ("text, data, store, grid", [
        "bench.text.*", "bench.data.*", "bench.store", "bench.grid", "bench.artefacts", "bench.claims",
        "bench.follow", "bench.tables", "bench.table_struct", "bench.table_render", "bench.paired", "bench.plots",
        "bench.predictions", "bench.stats", "bench.profiles",
    ]),
    ("models, flops, spec, registry", [
        "bench", "bench.models.*", "bench.flops", "bench.flops_*", "bench.views", "bench.spec",
        "bench.registry", "bench.errors", "bench.settings", "bench.validation", "bench.method",
        "bench.checkpoint", "bench.metrics", "bench.dist", "bench.fsutil", "bench.view_agreement",
    ]),
]


def _modules() -> dict[str, tuple[Path, bool]]:
    mods: dict[str, tuple[Path, bool]] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if "configs" in parts or "_base_" in parts:  # MMEngine config files, not modules
                continue
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            mods[".".join(parts)] = (path, is_pkg)
    return mods


def _resolve(name: str, mods) -> str | None:
    """The module file an imported dotted name lands in (a name inside a module -> that module)."""
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: line of the first import}."""
    mods = _modules()
    graph: dict[str, dict[str, int]] = {}
    for mod, (path, is_pkg) in mods.items():
        package = mod if is_pkg else mod.rpartition(".")[0]
        out: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    base_name = ".".join(base + ([node.module] if node.module else []))
                else:
                    base_name = node.module or ""
                # "from a.b import c": c may be a module (a.b.c) or a name in a.b
                targets = [f"{base_name}.{a.name}" for a in node.names] or [base_name]
            for t in targets:
                hit = _resolve(t, mods)
                if hit and hit != mod and hit not in out:
                    out[hit] = node.lineno
        graph[mod] = out
    return graph


def _layer_of(mod: str) -> int | None:
    best: tuple[int, int] | None = None  # (specificity, layer)
    for i, (_, entries) in enumerate(LAYERS):
        for e in entries:
            if e.endswith(".*"):
                pkg = e[:-2]
                ok = mod == pkg or mod.startswith(pkg + ".")
                spec = len(pkg)
            elif e.endswith("*"):
                ok = mod.startswith(e[:-1])
                spec = len(e) - 1
            else:
                ok = mod == e
                spec = len(e) + 1000  # an exact name beats any pattern
            if ok and (best is None or spec > best[0]):
                best = (spec, i)
    return None if best is None else best[1]


def _rel(mod: str) -> str:
    path, is_pkg = _modules()[mod]
    return str(path.relative_to(ROOT))


def test_every_module_has_a_layer():
    unmapped = sorted(m for m in _graph() if _layer_of(m) is None)
    assert not unmapped, f"modules with no layer in tests/test_imports.py LAYERS: {unmapped}"


def test_no_import_into_a_higher_layer():
    graph = _graph()
    bad = []
    for mod, deps in sorted(graph.items()):
        lm = _layer_of(mod)
        for dep, line in sorted(deps.items()):
            ld = _layer_of(dep)
            if lm is not None and ld is not None and ld < lm:
                bad.append(f"{_rel(mod)}:{line} ({LAYERS[lm][0]}) imports {dep} ({LAYERS[ld][0]})")
    assert not bad, "imports from a lower layer into a higher one:\n" + "\n".join(bad)


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as one cycle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for comp in comps:  # one concrete cycle: breadth-first from the first member back to itself
        members = set(comp)
        start = comp[0]
        prev: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in graph[v]:
                    if w == start:
                        found = v
                        break
                    if w in members and w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if found:
                    break
            frontier = nxt
        path = [start]
        v = found
        while v and v != start:
            path.insert(1, v)
            v = prev[v]
        cycles.append(path + [start])
    return cycles


def test_no_import_cycle_between_files():
    graph = _graph()
    cycles = _cycles(graph)
    shown = [" -> ".join(f"{m} ({_rel(m)}:{graph[m][n]})" if n else m for m, n in zip(c, c[1:] + [None]))
             for c in cycles]
    assert not cycles, "files that import each other:\n" + "\n".join(shown)


def test_the_walk_sees_function_level_and_relative_imports(tmp_path):
    """The walk must see what a lazy import hides: check it on a known function-level import."""
    graph = _graph()
    assert graph, "no modules found"
    # bench.cli.__main__ imports bench.cli relatively or absolutely; every package has an __init__ entry
    assert "bench.cli" in graph and "bench" in graph
    lazy = [(m, d) for m, deps in graph.items() for d in deps
            if any(isinstance(n, (ast.Import, ast.ImportFrom)) and n.col_offset > 0
                   for n in ast.walk(ast.parse(_modules()[m][0].read_text())))]
    assert lazy, "no function-level import was seen: the walk only reads module level"
