"""The void-finding algorithms and their column prefixes in `features.galaxy` (`vf_in_void`,
`vide_void_id`, ...): the one table every room reads (ingest recognises catalog files by these
names). Kept free of imports so that any room, the CLI included, reads it at no cost."""

from __future__ import annotations

ALGORITHM_PREFIX = {
    "VoidFinder": "vf",
    "VIDE": "vide",
    "ZOBOV": "zobov",
    "REVOLVER": "revolver",
    "V2": "v2",  # a V2 catalog whose file name names no algorithm
}
# prefix -> name of the DESIVAST algorithms, in the order tables and pages list them
ALGORITHM_NAMES = {prefix: name for name, prefix in ALGORITHM_PREFIX.items() if name != "V2"}
