"""Per-feature mean and standard deviation over the train split, computed in SQL."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg
import torch
from psycopg import sql

from desivoid_ml.data.query import Fractions, sample_predicate, split_predicate
from desivoid_ml.errors import DesivoidError, first_line


@dataclass(frozen=True)
class Normalization:
    """What inference must reuse: feature order, centre and scale."""

    features: list[str]
    mean: list[float]
    std: list[float]

    def apply(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(standardised x with missing set to 0, mask with 1 where observed)."""
        mask = ~torch.isnan(x)
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device)
        std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device)
        z = torch.where(mask, (x - mean) / std, torch.zeros_like(x))
        return z, mask.to(x.dtype)

    def to_dict(self) -> dict:
        return asdict(self)


def compute(
    conn,
    schema: str,
    table: str,
    features: dict[str, str],
    fractions: Fractions,
    sample: str = "true",
    sample_name: str = "all",
) -> Normalization:
    """Mean and std of every feature over the non-NULL train rows of the training sample."""
    aggregates = sql.SQL(", ").join(
        sql.SQL("avg(({e})::float8), stddev_pop(({e})::float8), count(({e}))").format(e=sql.SQL(e))
        for e in features.values()
    )
    where = sql.SQL("{} AND {}").format(
        split_predicate("train", fractions), sample_predicate("train", sample)
    )
    try:
        row = conn.execute(
            sql.SQL("SELECT count(*), {} FROM {} WHERE {}").format(
                aggregates, sql.Identifier(schema, table), where
            )
        ).fetchone()
    except psycopg.errors.UndefinedTable as exc:
        raise DesivoidError(f"{schema}.{table} does not exist; run `desivoid features`") from exc
    except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedFunction) as exc:
        raise DesivoidError(
            f"data.sample={sample_name!r} or a data.features expression does not fit "
            f"{schema}.{table}: {first_line(exc)}; rebuild it with `desivoid features` or fix "
            "the data config"
        ) from exc
    if not row[0]:
        raise DesivoidError(
            f"data.sample={sample_name!r} selects no galaxy of the train split of "
            f"{schema}.{table}; choose another sample (configs/features.yaml `samples`)"
        )
    means, stds, counts = row[1::3], row[2::3], row[3::3]
    empty = [name for name, count in zip(features, counts, strict=True) if not count]
    if empty:
        raise DesivoidError(
            f"features {', '.join(empty)} have no values in the train split of "
            f"{schema}.{table}; drop them from the data config"
        )
    std = [float(s) if s and s > 0 else 1.0 for s in stds]
    return Normalization(list(features), [float(m) for m in means], std)
