"""Write the configuration reference (every RECOMMENDER_* variable) into docs/operations.md.

    python -m scripts.config_reference          # rewrite the table between its markers
    python -m scripts.config_reference --check  # exit 1 when the page is out of date (tests/test_config_reference.py)

The table is made from the Settings model (recommender/config.py), the one place settings are
defined and described, so the page cannot list a variable that does not exist or miss one that does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from recommender.config import Settings
from scripts.docs_table import replace_in_text

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "operations.md"
BLOCK = "config-reference"
COMMAND = "python -m scripts.config_reference"


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "*(required)*"
    else:
        value = field.default
    if value is None:
        # validate_default: the validator computes it (e.g. a folder found from the install)
        return "*(computed: see description)*" if field.validate_default else "*(none)*"
    if value in ([], ""):
        return "*(empty)*"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render() -> str:
    """The markdown table, one row per setting, in the order of the Settings model."""
    prefix = Settings.model_config.get("env_prefix", "")
    rows = ["| variable | default | description |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"Settings.{name} has no description: add one in recommender/config.py")
        rows.append(f"| `{prefix}{name.upper()}` | {_default(field)} | {_cell(field.description)} |")
    return "\n".join(rows)


def updated(text: str) -> str:
    """`text` (the page) with the table replaced by the current one."""
    return replace_in_text(text, BLOCK, render(), COMMAND)


def main(argv: list[str]) -> int:
    current = PAGE.read_text()
    fresh = updated(current)
    if "--check" in argv:
        if fresh != current:
            print(f"{PAGE} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(fresh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
