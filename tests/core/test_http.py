"""Security headers, error pages, configuration."""

from __future__ import annotations

import pytest

from kontroll import create_app
from kontroll.config import ConfigError
from tests.support.web import login


def test_security_headers_on_every_page(client, world):
    for response in (client.get("/logga-in"), client.get("/finns-inte")):
        h = response.headers
        csp = h["Content-Security-Policy"]
        for part in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
            assert part in csp
        assert "unsafe-inline" not in csp
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"
        assert h["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in h  # plain HTTP here


def test_hsts_over_https(client):
    response = client.get("/logga-in", base_url="https://kontroll.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_pages_have_no_inline_scripts_or_styles(client, world):
    login(client, "sysadmin")
    for url in ("/", "/admin/anvandare", "/admin/enheter/IFO-FS", "/logga-in"):
        html = client.get(url).get_data(as_text=True)
        assert "<script" not in html and "style=" not in html and "<style" not in html, url


def test_error_pages_are_swedish_without_internals(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Något gick fel" in html and "secret internals" not in html and "Traceback" not in html
    assert "Sidan finns inte" in client.get("/nope").get_data(as_text=True)


def test_too_large_request_is_refused(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/logga-in", data={"username": "x" * 5000})
    assert response.status_code == 413
    assert "för stor" in response.get_data(as_text=True)


def test_health_checks_the_database(client):
    response = client.get("/halsa")
    assert response.status_code == 200 and response.get_json()["databas"] == "ok"


def test_missing_secret_key_in_production_is_a_clear_startup_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KONTROLL_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})


def test_environment_variables_override_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("KONTROLL_SECRET_KEY", "from-env")
    monkeypatch.setenv("KONTROLL_SESSION_IDLE_TIMEOUT", "600")
    monkeypatch.setenv("KONTROLL_DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite")
    app = create_app({"TESTING": True})
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SESSION_IDLE_TIMEOUT"] == 600
    assert app.config["DATABASE_URL"].endswith("env.sqlite")


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch):
    monkeypatch.delenv("KONTROLL_DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    assert app.config["DATABASE_URL"] == f"sqlite:///{app.instance_path}/kontroll.sqlite"


def test_production_defaults_are_safe(app):
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_IDLE_TIMEOUT"] == 30 * 60
    assert app.config["SESSION_ABSOLUTE_TIMEOUT"] == 10 * 60 * 60
    assert app.config["MAX_CONTENT_LENGTH"] is not None
