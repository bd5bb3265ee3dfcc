"""/halsa: the monitoring check answers without login, checks the database with a query
and the schema version, and says 503 in plain Swedish without details when either fails."""

from __future__ import annotations

import json

from alembic.script import ScriptDirectory

from bench.loadclient import free_port
from kontroll import create_app
from kontroll.migrate import MIGRATIONS_DIR, upgrade
from tests.support.app import make_test_app


def _health(app):
    response = app.test_client().get("/halsa")
    return response, json.loads(response.get_data(as_text=True))


def test_health_is_ok_without_login_and_sets_no_cookie(app):
    response, body = _health(app)
    assert response.status_code == 200
    assert body == {"status": "ok", "databas": "ok", "schema": "ok"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_health_is_503_without_details_when_the_database_does_not_answer():
    port = free_port()  # nothing listens there
    app = create_app({"TESTING": True, "SECRET_KEY": "x",
                      "DATABASE_URL": f"postgresql+psycopg://kontroll:hemligt@127.0.0.1:{port}/kontroll"})
    response, body = _health(app)
    assert response.status_code == 503
    assert body == {"status": "fel", "databas": "svarar inte"}
    text = response.get_data(as_text=True)
    for leak in ("127.0.0.1", str(port), "hemligt", "psycopg", "OperationalError", "Traceback"):
        assert leak not in text
    # the next check still answers (the broken connection was not kept)
    assert _health(app)[0].status_code == 503


def test_health_is_503_when_the_database_is_not_migrated(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path}/empty.sqlite")
    response, body = _health(app)
    assert response.status_code == 503
    assert body == {"status": "fel", "databas": "ok", "schema": "inte migrerad"}


def test_health_is_503_when_the_schema_is_behind_the_code(tmp_path):
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    previous = script.get_revision(script.get_current_head()).down_revision
    url = f"sqlite:///{tmp_path}/behind.sqlite"
    upgrade(url, str(previous))
    response, body = _health(make_test_app(url))
    assert response.status_code == 503 and body["schema"] == "inte migrerad"
    upgrade(url)
    assert _health(make_test_app(url))[0].status_code == 200
