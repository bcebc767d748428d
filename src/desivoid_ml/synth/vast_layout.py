"""The column layout of DESIVAST files as the real VAST outputs write them (tests/data/real/voids/):
upper-case names, int64 'K' and float64 'D' only, lengths in Mpc/h."""

from __future__ import annotations

from desivoid_ml.synth.datamodel import ColumnDef

MPCH = "Mpc h-1"
AREA = "(Mpc/h)^2"


def _cols(spec: str, unit: str = "") -> tuple[ColumnDef, ...]:
    """'X:D Y:D VOID:K' -> ColumnDefs; `unit` goes on every 'D' column."""
    out = []
    for item in spec.split():
        name, tform = item.split(":")
        out.append(ColumnDef(name, tform, unit if tform == "D" else ""))
    return tuple(out)


MAXIMALS_COLUMNS = (
    *_cols("X:D Y:D Z:D RADIUS:D VOID:K EDGE:K R:D", MPCH),
    ColumnDef("RA", "D", "deg"),
    ColumnDef("DEC", "D", "deg"),
    *_cols("R_EFF:D R_EFF_UNCERT:D", MPCH),
)
HOLES_COLUMNS = _cols("X:D Y:D Z:D RADIUS:D VOID:K", MPCH)
VOIDS_COLUMNS = (
    ColumnDef("VOID", "K"),
    *_cols("X:D Y:D Z:D", MPCH),
    ColumnDef("REDSHIFT", "D"),
    ColumnDef("RA", "D", "deg"),
    ColumnDef("DEC", "D", "deg"),
    *_cols("RADIUS:D X1:D Y1:D Z1:D X2:D Y2:D Z2:D X3:D Y3:D Z3:D", MPCH),
    *_cols("TOT_AREA:D EDGE_AREA:D", AREA),
)
ZONEVOID_COLUMNS = _cols("ZONE:K VOID0:K VOID1:K")
GALZONE_COLUMNS = _cols("GAL:K TARGET:K X:D Y:D Z:D ZONE:K DEPTH:K EDGE:K OUT:K")
TRIANGLE_COLUMNS = (
    ColumnDef("VOID", "K"),
    *_cols(" ".join(f"{p}_{a}:D" for p in ("N", "P1", "P2", "P3") for a in "XYZ"), MPCH),
)
GALVIZ_COLUMNS = _cols("GID:K G2V:K G2V2:K")
