"""Reconstruction errors that count observed entries only (missing features carry a 0 mask)."""

from __future__ import annotations

import numpy as np
import torch


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over observed entries only."""
    return ((prediction - target) ** 2 * mask).sum() / mask.sum().clamp_min(1.0)


def per_feature_mse(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Masked MSE per feature (column)."""
    return ((prediction - target) ** 2 * mask).sum(axis=0) / np.maximum(mask.sum(axis=0), 1)


def per_row_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked MSE of each row (NaN where a row has no observed entry)."""
    counts = mask.sum(dim=1)
    sums = ((prediction - target) ** 2 * mask).sum(dim=1)
    return torch.where(counts > 0, sums / counts.clamp_min(1.0), torch.nan)
