"""A callback (tests only) that saves the key_hash of every training row a rank sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from lightning.pytorch.callbacks import Callback


class KeyRecorder(Callback):
    def __init__(self, out_dir: str):
        self.out_dir = Path(out_dir)
        self.keys: list[np.ndarray] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.keys.append(batch["key_hash"].cpu().numpy())

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        keys = np.concatenate(self.keys) if self.keys else np.zeros(0, dtype=np.int64)
        np.save(self.out_dir / f"rank{trainer.global_rank}_epoch{trainer.current_epoch}.npy", keys)
        self.keys = []
