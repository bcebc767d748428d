"""Request parameters checked one by one: a bad value is a 400 that names it, never a 500."""

from __future__ import annotations

import math
import re

from desivoid_ml.errors import DesivoidError
from desivoid_ml.finder.neighbours import MAX_K, Filters
from desivoid_ml.finder.sky import check_position
from desivoid_ml.finder.store import ALGORITHMS

BIGINT_MAX = 2**63 - 1
NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")  # survey, program, run ids


class BadParam(ValueError):
    """A parameter that cannot be used; the message is shown to the user."""


def text(params, name: str, default: str | None = None) -> str | None:
    value = params.get(name)
    return value.strip() if value is not None and value.strip() else default


def number(
    params, name: str, low: float, high: float, default: float | None = None
) -> float | None:
    """A finite float within [low, high], or the default when absent."""
    value = text(params, name)
    if value is None:
        return default
    try:
        result = float(value)
    except ValueError:
        raise BadParam(f"{name} must be a number, got {value[:40]!r}") from None
    if not math.isfinite(result):
        raise BadParam(f"{name} must be a finite number, got {value[:40]!r}")
    if not low <= result <= high:
        raise BadParam(f"{name} must be between {low:g} and {high:g}, got {value[:40]!r}")
    return result


def integer(params, name: str, low: int, high: int, default: int | None = None) -> int | None:
    value = text(params, name)
    if value is None:
        return default
    if not re.fullmatch(r"[+-]?\d{1,20}", value):
        raise BadParam(f"{name} must be a whole number, got {value[:40]!r}")
    result = int(value)
    if not low <= result <= high:
        raise BadParam(f"{name} must be between {low} and {high}, got {value[:40]!r}")
    return result


def targetid(value: str | None) -> int:
    """A TARGETID: a non-negative 64-bit integer."""
    if value is None or not value.strip():
        raise BadParam("targetid is missing")
    result = integer({"targetid": value}, "targetid", 0, BIGINT_MAX)
    assert result is not None
    return result


def name(params, key: str) -> str | None:
    """survey / program / run: letters, digits, '_', '.', '-' only."""
    value = text(params, key)
    if value is not None and not NAME.fullmatch(value):
        raise BadParam(f"{key} may hold only letters, digits, '_', '.', '-', got {value[:40]!r}")
    return value


def sky(params) -> tuple[float, float, float]:
    """(ra, dec, radius in arcsec) of a position search, by sky.check_position's rule (the
    CLI's too): RA in [0, 360), Dec in [-90, 90], radius in [0, 36000]."""
    ra = number(params, "ra", -math.inf, math.inf)
    dec = number(params, "dec", -math.inf, math.inf)
    if ra is None or dec is None:
        raise BadParam("give both ra and dec (degrees), or a targetid")
    radius = number(params, "radius", -math.inf, math.inf, 2.0)
    try:
        check_position(ra, dec, radius)
    except DesivoidError as exc:
        raise BadParam(str(exc)) from None
    return ra, dec, radius


def k(params, default: int = 10) -> int:
    value = integer(params, "k", 1, MAX_K, default)
    assert value is not None
    return value


def filters(params) -> Filters:
    algorithm = text(params, "algorithm", "vf")
    if algorithm not in ALGORITHMS:
        raise BadParam(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm[:40]!r}")
    environment = text(params, "env", "all")
    if environment not in ("all", "void", "wall"):
        raise BadParam(f"env must be all, void or wall, got {environment[:40]!r}")
    z_min = number(params, "zmin", -1.0, 20.0)
    z_max = number(params, "zmax", -1.0, 20.0)
    if z_min is not None and z_max is not None and z_min > z_max:
        raise BadParam(f"zmin ({z_min:g}) is above zmax ({z_max:g})")
    return Filters(algorithm, environment, z_min, z_max)
