"""`desivoid db start|stop|status|reset|url`: the embedded server or the DESIVOID_DSN one."""

from __future__ import annotations

import typer

from desivoid_ml.cli.app import db_app, out


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (or check DESIVOID_DSN answers) and apply migrations."""
    from desivoid_ml.db import open_database
    from desivoid_ml.secrets import redact_text

    db = open_database()
    out.print(f"database ready: {redact_text(db.dsn)}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (never touches a DESIVOID_DSN server)."""
    from desivoid_ml.db import embedded

    out.print("stopped" if embedded.stop() else "embedded database was not running")


@db_app.command("status")
def db_status() -> None:
    """Say which server is in use and whether it answers."""
    import os

    from desivoid_ml.db import embedded
    from desivoid_ml.db.connection import DSN_ENV, connect
    from desivoid_ml.secrets import redact_text

    dsn = os.environ.get(DSN_ENV)
    if dsn:
        with connect(dsn) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        out.print(f"{DSN_ENV} server {redact_text(dsn)}: up, PostgreSQL {version}")
        return
    state = embedded.status()
    if not state.running:
        out.print(f"embedded database in {state.pgdata}: stopped")
        raise typer.Exit(1)
    out.print(f"embedded database in {state.pgdata}: running (pid {state.pid}), {state.uri}")


@db_app.command("reset")
def db_reset(yes: bool = typer.Option(False, "--yes", help="Really drop every table.")) -> None:
    """Drop all desivoid schemas (raw, features, ml, meta) and recreate them empty."""
    from desivoid_ml.db import open_database
    from desivoid_ml.db.connection import drop_namespace

    if not yes:
        out.print("this drops every loaded catalog, feature, run and embedding; add --yes")
        raise typer.Exit(1)
    drop_namespace(open_database(migrate=False))
    open_database()
    out.print("database reset: empty schemas, migrations applied")


@db_app.command("url")
def db_url() -> None:
    """Print the DSN, e.g. psql "$(desivoid db url)"; starts the embedded server if needed."""
    from desivoid_ml.db.connection import resolve_dsn

    print(resolve_dsn())
