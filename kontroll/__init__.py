"""kontroll: internkontroll av handläggningen inom ekonomiskt bistånd."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Configuration: defaults, instance/config.py, then KONTROLL_* variables
    (``test_config`` replaces instance/config.py and wins over everything)."""
    app = Flask(__name__, instance_relative_config=True)

    from kontroll import config, db
    from kontroll.core import auth, web

    config.load_config(app, test_config)
    if app.config.get("PASSWORD_HASH_PROFILE") == "fast":  # tests only: argon2id, cheap parameters
        auth.configure_hasher(time_cost=1, memory_cost_kib=1024, parallelism=1)

    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    db.init_app(app)
    web.init_app(app)

    from kontroll.admin.views import bp as admin_bp
    from kontroll.cases.views import api as cases_api
    from kontroll.cases.views import bp as cases_bp
    from kontroll.core.notification_views import bp as notifications_bp
    from kontroll.core.views import bp as core_bp
    from kontroll.genomgang.views import bp as genomgang_bp
    from kontroll.reports.views import bp as reports_bp
    from kontroll.reviews.views import bp as reviews_bp
    from kontroll.sampling.views import bp as sampling_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(cases_api)
    app.register_blueprint(sampling_bp)
    app.register_blueprint(reviews_bp)
    app.register_blueprint(genomgang_bp)
    app.register_blueprint(reports_bp)

    from kontroll import cli

    cli.register(app)

    # import every model module so that Alembic and relationships see the whole schema
    import kontroll.models  # noqa: F401

    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app
