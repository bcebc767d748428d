"""Optuna sweeps through Hydra's sweeper, with the study stored in the project's PostgreSQL.

hydra-optuna-sweeper 1.2 pins optuna 2.10, whose PostgreSQL storage needs SQLAlchemy < 2 and
psycopg2; the study lives in a schema of its own (`<namespace>optuna`) of the same database, so a
second machine given the same DSN joins the same study.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from omegaconf import OmegaConf
from psycopg import sql

from desivoid_ml.db.connection import Namespace, connect, resolve_dsn

STORAGE_LOCK_KEY = 0x6F70_7475  # "optu"


def storage_url(dsn: str | None, namespace: str = "") -> str:
    """SQLAlchemy URL of the study storage; creates its schema on first use."""
    dsn = dsn or resolve_dsn()
    schema = Namespace(namespace).optuna
    parts = urlsplit(dsn)
    option = "options=" + quote(f"-csearch_path={schema}")
    query = f"{parts.query}&{option}" if parts.query else option
    url = urlunsplit(parts._replace(scheme="postgresql+psycopg2", query=query))
    _create_storage_once(dsn, schema, url)
    return url


def _create_storage_once(dsn: str, schema: str, url: str) -> None:
    """Schema and Optuna tables, created under a lock: sweeps started together on a fresh
    database would otherwise race on CREATE TABLE."""
    import optuna

    with connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (STORAGE_LOCK_KEY,))
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            optuna.storages.RDBStorage(url)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (STORAGE_LOCK_KEY,))


def register_resolvers() -> None:
    """`${optuna_storage:${db.dsn},${db.namespace}}` in configs/hparams_search."""
    if not OmegaConf.has_resolver("optuna_storage"):
        OmegaConf.register_new_resolver("optuna_storage", storage_url, use_cache=True)
