"""The store is a low layer: it imports only the shared records, articles and config, never a higher layer."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "recommender"
ALLOWED = ("recommender.domain", "recommender.store", "recommender.articles", "recommender.config")


def _imports(path: Path, runtime_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if runtime_only:  # imports under `if TYPE_CHECKING:` are for annotations only
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "recommender"}


def test_the_store_imports_no_higher_layer() -> None:
    wrong = {
        f"{path.relative_to(ROOT.parent)}: {name}"
        for path in (ROOT / "store").glob("*.py")
        for name in _imports(path)
        if not name.startswith(ALLOWED)
    }
    assert not wrong, sorted(wrong)


def test_the_shared_records_import_nothing_of_ours_at_run_time() -> None:
    assert _imports(ROOT / "domain.py", runtime_only=True) == set()


def test_no_store_module_is_over_450_lines() -> None:
    long = {p.name: n for p in (ROOT / "store").glob("*.py") if (n := len(p.read_text().splitlines())) > 450}
    assert not long, long
