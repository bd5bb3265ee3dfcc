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


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_cited_file_exists(doc: Path) -> None:
    """Paths the documents name in code spans exist: from the repository's root, or (for the
    short form `sampling/method.py`) inside the package."""
    text = doc.read_text(encoding="utf-8")
    top = "kontroll|tests|docs|bench|checklists|core|cases|sampling|reviews|genomgang|reports|privacy|admin"
    cited = set(re.findall(rf"`((?:{top})/(?:[\w-]+/)*(?:[\w-]+\.(?:py|md|toml|txt))?)`", text))
    missing = sorted(p for p in cited
                     if not any((base / p.rstrip("/")).exists() for base in (ROOT, ROOT / "kontroll")))
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_code_cites_only_documents_in_the_repository() -> None:
    """A comment citing a design document names one that is here (docs/architecture.md holds
    the invariants); the product brief outside the repository is not a reference."""
    offenders = []
    for path in sorted((ROOT / "kontroll").rglob("*.py")) + sorted((ROOT / "tests").rglob("*.py")):
        if path == Path(__file__).resolve():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in re.findall(r"\b([\w-]+\.md)\b", line):
                if not list(ROOT.glob(f"**/{name}")) or name in ("design.md", "domain.md", "engineering.md"):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {name}")
    assert offenders == []


def test_every_dotted_name_in_code_and_documents_exists() -> None:
    """`kontroll.x.y.name` in a docstring, comment or document names something that exists
    (renamed functions leave no stale words behind)."""
    import importlib

    package = ROOT / "kontroll"
    modules = {p.stem for p in package.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    files = sorted(package.rglob("*.py")) + DOCS
    missing = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for ref in re.findall(r"\bkontroll(?:\.[A-Za-z_]\w*)+", line):
                parts = ref.split(".")
                if parts[1] not in modules or parts[1] == "wsgi":
                    continue  # a host name, a file name, or the WSGI module (it builds an app)
                for cut in range(len(parts), 1, -1):
                    try:
                        obj = importlib.import_module(".".join(parts[:cut]))
                        break
                    except ImportError:
                        continue
                else:
                    missing.append(f"{path.relative_to(ROOT)}:{n}: {ref}")
                    continue
                try:
                    for attr in parts[cut:]:
                        obj = getattr(obj, attr)
                except AttributeError:
                    missing.append(f"{path.relative_to(ROOT)}:{n}: {ref}")
    assert missing == []
