"""No test module imports another test module or a conftest: helpers shared between tests live
in ``tests/support/`` (and nowhere else), fixtures in the conftest.py of the directory that
uses them. A helper imported from a test module or a conftest couples that file's fixtures,
hooks and tests to everyone who imports it; an imported fixture hides where it comes from.

The check reads every .py file under tests/ with ``ast``: ``import tests.x``, ``from tests.x
import …``, ``from tests import x``, relative imports resolved against the file's package,
and ``importlib.import_module``/``__import__`` called with a literal name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ALLOWED = "tests.support"


def _package(path: Path) -> list[str]:
    """The dotted package of a file under tests/, as parts (``tests/jobs/x.py`` -> tests, jobs)."""
    return ["tests", *path.relative_to(TESTS).parent.parts]


def _imported(tree: ast.AST, package: list[str]) -> list[tuple[int, str]]:
    """(line, module) for every module under ``tests`` that the code imports."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level - 1 < len(package) else []
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module == "tests":
                # ``from tests import support``, ``from tests import conftest``: each name is a module
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return [(line, m) for line, m in found if m == "tests" or m.startswith("tests.")]


def offending_imports(source: str, path: Path) -> list[str]:
    """``path:line: module`` for every import of a tests module outside tests.support."""
    tree = ast.parse(source, filename=str(path))
    return [
        f"{path.relative_to(TESTS.parent)}:{line}: {module}"
        for line, module in _imported(tree, _package(path))
        if not (module == ALLOWED or module.startswith(ALLOWED + "."))
    ]


def test_no_test_module_imports_another_test_module() -> None:
    offenders: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        offenders += offending_imports(path.read_text(encoding="utf-8"), path)
    assert offenders == [], (
        "import helpers from tests/support/ and define fixtures in a conftest.py, "
        "never import them from a test module or a conftest:\n" + "\n".join(offenders)
    )


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("from tests.conftest import login", "core/test_x.py"),
        ("from tests.jobs import app  # noqa: F401", "faults/test_x.py"),
        ("import tests.sampling.test_draws", "reviews/conftest.py"),
        ("import tests", "core/test_x.py"),
        ("from tests import conftest", "core/test_x.py"),
        ("from . import d", "jobs/test_x.py"),
        ("from .conftest import started", "genomgang/test_x.py"),
        ("from ..sampling.test_draws import case_list", "genomgang/conftest.py"),
        ("def f():\n    from tests.fuzz.conftest import Scene\n", "fuzz/test_x.py"),
        ("import importlib\nimportlib.import_module('tests.browser.conftest')", "core/test_x.py"),
        ("from tests.supporting import x", "core/test_x.py"),
    ],
)
def test_the_check_finds_an_import_of_a_test_module(source: str, where: str) -> None:
    assert offending_imports(source, TESTS / where)


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("from tests.support.web import login", "core/test_x.py"),
        ("from tests.support import app", "core/test_x.py"),
        ("from tests import support", "core/test_x.py"),
        ("import tests.support.xlsx", "cases/test_x.py"),
        ("from .app import PASSWORD", "support/web.py"),
        ("from ..support.jobs import d", "jobs/test_x.py"),
        ("from kontroll import tests_helpers\nimport pytest", "core/test_x.py"),
    ],
)
def test_the_check_allows_tests_support(source: str, where: str) -> None:
    assert offending_imports(source, TESTS / where) == []
