"""Engines for the catalogue: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from pancommons.query.regexp import sqlite_regexp


class DatabaseUrlError(ValueError):
    pass


def database_reason(error: Exception) -> str:
    """The database's own one-line reason for refusing a statement, for reports."""
    original = getattr(error, "orig", None) or error
    return str(original).strip().splitlines()[0][:300]


def _unicode_lower(text):
    return text.lower() if isinstance(text, str) else text


def make_engine(url: str, *, reader: bool = False) -> Engine:
    """An engine for ``url``; ``reader`` engines (the API's) never take SQLite's write lock."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseUrlError(f"invalid database URL {url!r}: {error}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, reader)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, the [postgres] extra
        # psycopg prepares a statement after five runs and PostgreSQL may then keep a
        # generic plan made while a table was nearly empty (a sequential scan), for
        # the whole of a bulk ingest; planning each statement afresh is cheaper.
        connect_args: dict = {"prepare_threshold": None}
        if reader:
            # Bitmap scans over a broad text match must not go lossy: a lossy page makes PostgreSQL
            # re-derive every row's tsvector (16 s instead of 0.75 s for 10% of a million datasets).
            # A query of the public API that runs half a minute is cut off, not left to pile up.
            # JIT compiles for tens of ms what the API's short queries finish without it.
            connect_args["options"] = "-c work_mem=64MB -c statement_timeout=30000 -c jit=off"
        return create_engine(parsed, pool_pre_ping=True, future=True, connect_args=connect_args)
    raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://...")


def _sqlite_engine(url, reader: bool) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the ingest writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; safe with WAL
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA case_sensitive_like=ON")  # LIKE as PostgreSQL has it; ilike lower-cases both sides
        if reader:
            # Read pages through a memory map (SQLite caps it at its compiled maximum) and keep more
            # of them: a query touching 10⁵ rows otherwise makes as many read() calls
            # (a page of 10 documents with their datasets' parameters: 50 → 27 ms).
            cursor.execute("PRAGMA mmap_size=17179869184")
            cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()
        # The search API's regexp operator; patterns are checked safe before they get here (query/regexp.py).
        dbapi_connection.create_function("regexp", 2, sqlite_regexp, deterministic=True)
        # Lower case beyond ASCII, as PostgreSQL's lower() (SQLite's own folds ASCII only).
        dbapi_connection.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # Writers take the write lock up front (no upgrade deadlocks); readers
        # read a snapshot beside them, as WAL allows.
        connection.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")

    return engine
