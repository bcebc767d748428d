"""Database access: embedded or DSN server, schema migrations, and table I/O by binary COPY
(one column description both ways: copy_format; copy_in/create_table write, copy_out reads)."""

from desivoid_ml.db.connection import Database, Namespace, open_database

__all__ = ["Database", "Namespace", "open_database"]
