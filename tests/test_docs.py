"""The documents name the tests that hold their claims: every test they cite exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]



def _references(text: str) -> list[tuple[str, str | None]]:
    """(file, test name or None) for every cited test; ``::name`` continues the last file."""
    out: list[tuple[str, str | None]] = []
    last: str | None = None
    for m in re.finditer(r"(tests/[\w/]+\.py)(?:::(\w+))?|(?<![\w/])::(\w+)", text):
        if m.group(1):
            last = m.group(1)
            out.append((last, m.group(2)))
        elif last is not None:
            out.append((last, m.group(3)))
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_cited_test_exists(doc: Path) -> None:
    missing = []
    for file, name in _references(doc.read_text(encoding="utf-8")):
        path = ROOT / file
        if not path.exists():
            missing.append(file)
        elif name and not re.search(rf"^(?:async )?def {name}\(", path.read_text(encoding="utf-8"), re.M):
            missing.append(f"{file}::{name}")
    assert not missing, f"{doc.name} cites tests that do not exist: {sorted(set(missing))}"
