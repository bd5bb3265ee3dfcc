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

    # import every model module so that Alembic and relationships see the whole schema
    import kontroll.models  # noqa: F401
    from kontroll import features

    db.init_app(app, features.hooks())
    web.init_app(app)
    for blueprint in features.blueprints():
        app.register_blueprint(blueprint)
    for command in features.command_groups():
        app.cli.add_command(command)

    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app
