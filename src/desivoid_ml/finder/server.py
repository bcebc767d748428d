"""`desivoid serve`: the sky index once (a write), then the app on read-only connections."""

from __future__ import annotations

from collections.abc import Callable

from desivoid_ml.db.connection import Database
from desivoid_ml.finder.app import create_app
from desivoid_ml.finder.plots import ensure_slab_index
from desivoid_ml.finder.sky import ensure_sky_index
from desivoid_ml.finder.store import Store, read_only_pool


def open_store(db: Database, pool_size: int = 8) -> Store:
    """Make sure the sky and slab indexes exist (the only writes; the SQL functions come with
    the schema's migrations), then open the read-only pool the app uses."""
    ensure_sky_index(db)
    ensure_slab_index(db)
    return Store(db, read_only_pool(db, pool_size))


def serve(
    db: Database,
    host: str = "127.0.0.1",
    port: int = 8050,
    announce: Callable[[str], None] = print,
) -> None:
    """Run the finder until interrupted."""
    import uvicorn

    store = open_store(db)
    announce(f"Void Galaxy Finder on http://{host}:{port}/ (read-only; Ctrl-C stops it)")
    try:
        uvicorn.run(create_app(store), host=host, port=port, log_level="warning")
    finally:
        store.pool.close()
