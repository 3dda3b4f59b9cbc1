"""The package's layers (README, "The code, from the ground up"): a module imports from its own layer or a
lower one, never a higher one, and no modules import each other in a circle (annotation-only imports
under `if TYPE_CHECKING:` included: they tie the code together for a reader as much as any other)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "recommender"
# From the ground up; a name is a module or a package (everything under it).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("recommender", "recommender.config", "recommender.queries"),
    ("recommender.articles", "recommender.domain"),
    ("recommender.store",),
    ("recommender.embedding",),
    ("recommender.index",),
    ("recommender.evaluation", "recommender.training"),
    ("recommender.linking", "recommender.learning"),
    ("recommender.editorial",),
    ("recommender.services", "recommender.backup"),
    ("recommender.api", "recommender.cli", "recommender.status"),
)
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, found = -1, None
    for n, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), n
    assert found is not None, f"{module} is in no layer: add it to LAYERS (and to the README's table)"
    return found


def imports_of(path: Path) -> set[str]:
    """The project modules a file imports (`from a.b import c` counts as a.b.c when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recommender"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("recommender"))
    return {m for m in found if m in MODULES}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_no_module_imports_a_higher_layer() -> None:
    upward = sorted(
        f"{module} (layer {layer_of(module)}) imports {name} (layer {layer_of(name)})"
        for module, path in MODULES.items()
        for name in imports_of(path)
        if layer_of(name) > layer_of(module)
    )
    assert not upward, upward


def test_no_import_circles() -> None:
    graph = {m: {n for n in imports_of(p) if n != m and not m.startswith(n + ".") and n != "recommender"} for m, p in MODULES.items()}
    # A package's __init__ importing its own modules is how a package shows its face, not a circle.
    graph = {m: {n for n in deps if not n.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not circles, circles


def test_no_module_is_over_450_lines() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


SCRIPTS = sorted((PACKAGE / "api" / "static").rglob("*.js"))
JS_IMPORT = re.compile(r'^import (?:.* from )?"(\./[\w-]+\.js)";', re.M)


def test_the_pages_scripts_stay_small_and_import_no_circle() -> None:
    """The same rules for the review page's JavaScript modules (vendored Swagger UI aside)."""
    ours = [p for p in SCRIPTS if "docs" not in p.relative_to(PACKAGE).parts or p.name.endswith("-init.js")]
    long = {p.name: n for p in ours if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long
    graph = {p: [p.parent / name for name in JS_IMPORT.findall(p.read_text())] for p in ours}
    assert all(target.is_file() for targets in graph.values() for target in targets)

    def reaches(start: Path, goal: Path, seen: set[Path]) -> bool:
        return any(t == goal or (t not in seen and not seen.add(t) and reaches(t, goal, seen)) for t in graph.get(start, []))

    assert not [p.name for p in graph if reaches(p, p, set())]


def test_the_api_never_touches_the_store() -> None:
    """Routes get services (api/deps.py); only the records the store defines may be named."""
    touching = sorted(
        f"{module}: {name}"
        for module, path in MODULES.items()
        if module.startswith("recommender.api")
        for name in imports_of(path)
        if name.startswith("recommender.store")
    )
    assert not touching, touching


def test_the_shared_records_import_nothing_of_ours_at_run_time() -> None:
    """domain.py names Article in annotations only: every layer can import the records."""
    tree = ast.parse((PACKAGE / "domain.py").read_text())
    guarded = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(node)}
    ours = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("recommender") and id(n) not in guarded]
    assert not ours, [n.module for n in ours]
