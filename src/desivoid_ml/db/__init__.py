"""Database access: embedded or DSN server, schema migrations, binary COPY encoding."""

from desivoid_ml.db.connection import Database, Namespace, open_database

__all__ = ["Database", "Namespace", "open_database"]
