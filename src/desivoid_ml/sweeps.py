"""Where Optuna studies live: the project's PostgreSQL, schema `<namespace>optuna`.

The storage is an SQLAlchemy 2 URL on psycopg 3 (`postgresql+psycopg://`) that never holds the
password: the password travels to the driver as a connect argument, so Hydra, Optuna or a log
can print the URL. The schema and Optuna's tables are created once, under an advisory lock, so
sweeps started together on a fresh database do not race. optuna and SQLAlchemy are imported
inside the functions: they are the `sweep` extra, and `train.py` imports this module.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from omegaconf import OmegaConf
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from desivoid_ml.db.connection import Namespace, resolve_dsn
from desivoid_ml.errors import DesivoidError, first_line
from desivoid_ml.secrets import redact_text

STORAGE_LOCK_KEY = 0x6F70_7475  # "optu": schema and table creation
STUDY_LOCK_KEY = 0x7374_7564  # "stud": asking for trials, one process at a time per study
DRIVER = "postgresql+psycopg"
_PASSWORDS: dict[str, str] = {}  # storage URL -> the password its DSN carried (this process)


def storage_url(dsn: str | None, namespace: str = "") -> str:
    """The password-free SQLAlchemy URL of the project's study storage (nothing is connected)."""
    from sqlalchemy.engine import URL

    params = conninfo_to_dict(dsn or resolve_dsn())
    password = params.pop("password", None)
    schema = Namespace(namespace).optuna
    params["options"] = " ".join(filter(None, [params.get("options"), f"-csearch_path={schema}"]))
    host, port = params.pop("host", None), params.pop("port", None)
    if host and ("/" in host or "," in host):  # a unix socket or several hosts: libpq's query form
        params["host"], host = host, None
        if port:
            params["port"], port = port, None
    url = URL.create(
        DRIVER,
        username=params.pop("user", None),
        host=host,
        port=int(port) if port else None,
        database=params.pop("dbname", None),
        query=params,
    ).render_as_string(hide_password=False)
    if password:
        _PASSWORDS[url] = password
    return url


def password_to_environment(dsn: str) -> str:
    """`dsn` without its password, which goes to libpq through PGPASSWORD instead (this process
    and the trials it launches): the sweep passes the DSN to every trial as an override, and
    Hydra's launcher logs overrides."""
    params = conninfo_to_dict(dsn)
    password = params.pop("password", None)
    if not password:
        return dsn
    os.environ["PGPASSWORD"] = password
    return make_conninfo("", **params)


def open_storage(url: str):
    """Optuna's RDBStorage on `url`; for a PostgreSQL URL (psycopg 3), its search_path schema is
    created first. A password inside the URL is moved out of it. Unreachable: DesivoidError."""
    import optuna
    import sqlalchemy
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError as exc:
        raise DesivoidError(f"storage {redact_text(url)!r} is not a database URL") from exc
    password = parsed.password or _PASSWORDS.get(url)
    clean = _without_password(parsed)
    engine_kwargs = {"connect_args": {"password": password}} if password else {}
    try:
        if parsed.get_backend_name() == "postgresql":
            _create_schema_once(clean, engine_kwargs)
        return optuna.storages.RDBStorage(clean, engine_kwargs=engine_kwargs)
    except RuntimeError as exc:  # e.g. tables of an older Optuna: its message says what to run
        raise DesivoidError(redact_text(f"study storage {clean}: {first_line(exc)}")) from exc
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as exc:
        reason = redact_text(first_line(exc.__cause__ or exc, last=True))
        raise DesivoidError(
            redact_text(f"cannot reach the study storage {clean}: {reason}")
        ) from exc


def _without_password(url) -> str:
    """The URL without its password; a plain `postgresql://` gets psycopg 3 (SQLAlchemy's
    default PostgreSQL driver is psycopg2, which the project does not install)."""
    from sqlalchemy.engine import URL

    driver = DRIVER if url.drivername == "postgresql" else url.drivername
    fields = (driver, url.username, None, url.host, url.port, url.database, url.query)
    return URL.create(*fields).render_as_string(hide_password=False)


def _create_schema_once(url: str, engine_kwargs: dict[str, Any]) -> None:
    """The search_path schema, created under a lock (Optuna then creates its tables in it)."""
    import sqlalchemy

    schema = search_path_schema(url)
    if not schema:
        return
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool, **engine_kwargs)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": STORAGE_LOCK_KEY})
            try:
                quoted = conn.dialect.identifier_preparer.quote(schema)
                conn.execute(sqlalchemy.text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
                conn.commit()
                import optuna

                optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
            finally:
                conn.execute(
                    sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": STORAGE_LOCK_KEY}
                )
                conn.commit()
    finally:
        engine.dispose()


def search_path_schema(url: str) -> str | None:
    """The first schema of a `-csearch_path=...` option in the URL, if any."""
    from sqlalchemy.engine import make_url

    options = make_url(url).query.get("options") or ""
    if isinstance(options, tuple):
        options = " ".join(options)
    for option in options.split():
        if option.startswith("-csearch_path="):
            return option.removeprefix("-csearch_path=").split(",")[0].strip() or None
    return None


@contextmanager
def study_lock(storage, study_name: str) -> Iterator[None]:
    """Hold a per-study advisory lock (PostgreSQL storages; nothing elsewhere): processes that
    join one study count its trials and ask for new ones one at a time."""
    import sqlalchemy

    engine = getattr(storage, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        yield
        return
    key = {"a": STUDY_LOCK_KEY, "b": zlib.crc32(study_name.encode()) - 2**31}
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:a, :b)"), key)
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:a, :b)"), key)
            conn.commit()


def register_resolvers() -> None:
    """`${optuna_storage:${db.dsn},${db.namespace}}` in configs/hydra/sweeper/optuna.yaml."""
    if not OmegaConf.has_resolver("optuna_storage"):
        OmegaConf.register_new_resolver("optuna_storage", storage_url, use_cache=True)
