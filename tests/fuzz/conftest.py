"""Fixtures for the fuzz tests: a populated municipality (``scene``). What it holds, how it is
built and the snapshot of every table (to check that a refused request changed nothing) are
in tests/support/scene.py.

Here ``database_url`` is the scene's database (on SQLite built once and copied per test), so
tests in this directory ask for ``scene``, never for the conftest's ``world`` (it is inside)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from kontroll.db import get_database
from tests.support.app import ROOT, TEST_DB, World, empty_postgres, make_test_app
from tests.support.scene import Scene, build_scene


@pytest.fixture(scope="session")
def fuzz_checklists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fuzz") / "checklists"
    shutil.copytree(ROOT / "checklists", directory)
    return directory


@pytest.fixture(scope="session")
def scene_template(database_template: str, fuzz_checklists: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Scene] | None:
    """On SQLite: a database file with the scene built once, copied for every test."""
    if TEST_DB != "sqlite":
        return None
    path = tmp_path_factory.mktemp("fuzz") / "scene.sqlite"
    shutil.copyfile(database_template, path)
    app = make_test_app(f"sqlite:///{path}", CHECKLISTS_DIR=str(fuzz_checklists))
    try:
        session = get_database(app).observer_session()
        World(session)
        session.close()
        built = build_scene(app, fuzz_checklists)
    finally:
        get_database(app).engine.dispose()
    with sqlite3.connect(path) as conn:  # everything in the main file before it is copied
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return str(path), built


@pytest.fixture
def database_url(database_template: str, scene_template: tuple[str, Scene] | None, tmp_path: Path) -> Iterator[str]:
    """The scene's database (SQLite: a fresh copy of the built scene; PostgreSQL: the empty
    test database, filled by ``scene`` and emptied afterwards)."""
    if scene_template is not None:
        path = tmp_path / "kontroll.sqlite"
        shutil.copyfile(scene_template[0], path)
        yield f"sqlite:///{path}"
        return
    yield database_template
    empty_postgres(database_template)


@pytest.fixture
def scene(app: Flask, db: Any, scene_template: tuple[str, Scene] | None, fuzz_checklists: Path) -> Scene:
    app.config["CHECKLISTS_DIR"] = str(fuzz_checklists)
    if scene_template is not None:
        return scene_template[1]
    World(db)
    return build_scene(app, fuzz_checklists)
