"""Database plumbing: the declarative base, the engine and the request-bound session.

We use plain SQLAlchemy 2 rather than Flask-SQLAlchemy so that the SQLite connection
settings (foreign keys, WAL, busy timeout, ``BEGIN IMMEDIATE``) are in plain sight.

Rules of the house:
- services ``flush()``; views, CLI commands and scheduled jobs own the ``commit()``;
- on SQLite every transaction begins with ``BEGIN IMMEDIATE`` so that two writers queue on
  the busy timeout instead of failing with "database is locked" when a read upgrades to a
  write (SQLite's deferred transactions ignore the busy timeout in that case);
- the unique constraints in the schema are the last guard against races on both databases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: ``info`` of a text column whose value the application generates (a hash, token, seed, state
#: or code): not free text, so kontroll.privacy neither checks nor scans it
MACHINE: dict[str, str] = {"privacy": "machine"}
#: ``info`` of a column holding JSON: kontroll.privacy checks every string inside it
JSON_TEXT: dict[str, str] = {"privacy": "json"}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (UTC).

    SQLite has no time zones; PostgreSQL's ``timestamptz`` does. This type makes both
    behave the same: naive values are refused, values come back in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: kontroll stores only timezone-aware UTC timestamps")
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def insert_once(session: Session, row: Any, existing: Callable[[], T | None]) -> T | None:
    """Insert ``row`` in a savepoint, for rows that two requests may store at the same moment
    (a unique constraint keeps one). Returns None when ``row`` was stored. When the constraint
    refuses it, returns what ``existing()`` finds (the other transaction's row); if that finds
    nothing, the refusal was something else and is raised."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        found = existing()
        if found is None:
            raise
        return found
    return None


SQLITE_BUSY_TIMEOUT_MS = 15_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with kontroll's connection settings for the database at ``url``."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's recipe).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get("kontroll_autocommit"):
                return  # each statement is its own transaction (see Database.observer_session)
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """Holds the engine and session factory of one app."""

    def __init__(self, url: str, audit_key: bytes | None = None, hooks: Any = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        #: every session carries the audit log's HMAC key (kontroll.core.audit chains at commit)
        #: and the application's hooks (kontroll.core.hooks)
        self.audit_key = audit_key
        self.hooks = hooks
        #: the application this database belongs to (jobs run in its context); set by init_app
        self.app: Flask | None = None
        self.info = {"kontroll_audit_key": audit_key, "kontroll_hooks": hooks}
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False, info=self.info)

    def observer_session(self) -> Session:
        """A session that never holds a lock and always sees the latest commits.

        On SQLite each statement runs in its own transaction (no ``BEGIN``); use it to look
        at the database from outside the request cycle (tests, read-only tools), never for
        changes that must be atomic. On PostgreSQL it is an ordinary session.
        """
        if self.dialect == "sqlite":
            return Session(
                bind=self.engine.execution_options(kontroll_autocommit=True),
                expire_on_commit=False,
                info=dict(self.info),
            )
        return self.sessionmaker()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session for work outside a request (CLI, scheduler, tests). Commits on success."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def init_app(app: Flask, hooks: Any = None) -> None:
    database = Database(app.config["DATABASE_URL"], app.config["AUDIT_KEY_BYTES"], hooks)
    database.app = app
    database.info["kontroll_url_map"] = app.url_map  # kontroll.core.notifications.page_path
    database.info["kontroll_config"] = app.config  # config_of(session)
    app.extensions["kontroll_db"] = database

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("_db_session", None)
        if session is not None:
            session.rollback()
            session.close()


def config_of(session: Session) -> Any:
    """The configuration of the application ``session`` belongs to (empty outside one): for
    services that follow a setting (e.g. REVIEW_LATE_AFTER_MONTHS) whoever calls them."""
    return session.info.get("kontroll_config") or {}


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["kontroll_db"]


def get_session() -> Session:
    """The session bound to the current app context (one per request)."""
    if "_db_session" not in g:
        g._db_session = get_database().sessionmaker()
    return g._db_session
