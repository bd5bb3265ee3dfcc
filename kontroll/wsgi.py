"""The WSGI entry point for production servers: ``gunicorn -w 4 kontroll.wsgi:app``.

Configuration comes from ``instance/config.py`` and ``KONTROLL_*`` environment variables as
everywhere else (see kontroll/config.py); a missing SECRET_KEY stops the start with a clear
message. The scheduler is never started here: it runs as its own single process
(``kontroll scheduler run``), since every gunicorn worker imports this module.
"""

from kontroll import create_app

app = create_app()
