"""The layers of kontroll (docs/architecture.md, "Layers"): a module imports only from its own
layer or lower ones. The few deliberate exceptions are listed here with their reason; a new
upward import fails this test until it is either removed or argued for in this list."""

from __future__ import annotations

import ast
from pathlib import Path

import kontroll

ROOT = Path(kontroll.__file__).parent

#: Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    # foundations: the database, migrations, the personnummer detector and the text guards
    ("kontroll.db", "kontroll.migrate", "kontroll.core.errors", "kontroll.privacy.personnummer",
     "kontroll.privacy.guard"),
    # the core, with the record of a redaction (which verification everywhere reads)
    ("kontroll.core", "kontroll.config", "kontroll.privacy.models"),
    ("kontroll.checklists",),
    # the case lists, and the check of texts for the committee (it knows the lists' handläggare)
    ("kontroll.cases", "kontroll.privacy.committee"),
    ("kontroll.sampling",),
    ("kontroll.reviews",),
    ("kontroll.genomgang",),
    # the committee's summary, administration, and scanning and redacting stored values
    ("kontroll.reports", "kontroll.admin", "kontroll.privacy"),
    # assembling the application: the factory, the feature list, commands, jobs, scheduler, demo
    ("kontroll", "kontroll.features", "kontroll.cli", "kontroll.jobs", "kontroll.scheduler", "kontroll.backup",
     "kontroll.demo", "kontroll.models", "kontroll.wsgi", "kontroll.migrations"),
]

#: (importing module, imported module): why the upward import is there.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("kontroll.reviews.models", "kontroll.genomgang.models"):
        "a brist comes from a review or from a genomgång's result: one list of brister (type hint only)",
    ("kontroll.reviews.atgarder", "kontroll.genomgang.models"):
        "the list of brister loads the genomgång result a brist came from",
}


def _layer(module: str) -> int:
    best, best_len = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "kontroll":
                found.update(f"kontroll.{alias.name}" for alias in node.names)
            elif node.module.startswith("kontroll."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("kontroll"))
    return found


def test_every_import_points_down_or_is_an_argued_exception():
    upward = []
    for module, path in sorted(_modules().items()):
        for target in sorted(_imports(path)):
            if _layer(target) > _layer(module) and (module, target) not in EXCEPTIONS:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_every_exception_is_still_needed():
    modules = _modules()
    for (module, target), _reason in EXCEPTIONS.items():
        assert target in _imports(modules[module]), f"{module} no longer imports {target}: drop the exception"


def test_the_core_names_no_feature():
    """The core reaches the features only through the hooks kontroll.features fills in."""
    features = ("kontroll.checklists", "kontroll.cases", "kontroll.sampling", "kontroll.reviews",
                "kontroll.genomgang", "kontroll.reports", "kontroll.admin")
    for module, path in _modules().items():
        if module.startswith("kontroll.core"):
            assert not [t for t in _imports(path) if t.startswith(features)], module


#: modules that may name a role, and why (everything else asks kontroll.core.permissions)
ROLE_NAMERS = {
    "kontroll/core/permissions.py": "decides what each role may do",
    "kontroll/core/models.py": "defines the roles",
    "kontroll/demo.py": "gives the demo users their roles",
    "kontroll/core/users.py": "a systemadministratör may not remove their own role; a new unit's default drawer",
}


def test_nothing_but_permissions_compares_roles():
    """Pages and services ask permissions (can, may_hold, may_draw…), never role names: a
    role's reach changes in one place."""
    import re

    named = re.compile(r"\bRole\.[A-Z_]{3,}\b|\bR\.[A-Z_]{3,}\b")
    offenders = []
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT.parent).as_posix()
        if path.suffix not in (".py", ".html") or "/migrations/" in rel or rel in ROLE_NAMERS:
            continue
        offenders += [f"{rel}: {m.group(0)}" for m in named.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []
