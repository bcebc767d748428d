"""Lightning's WandbLogger, except that the command line wandb records has passwords masked."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger

from desivoid_ml.secrets import masked_argv


class WandbLogger(LightningWandbLogger):
    """wandb stores `sys.argv` when its run starts; only that moment sees a masked copy (the
    real one must stay: Lightning's DDP launcher re-runs it for the other ranks)."""

    @property
    def experiment(self) -> Any:  # wandb's Run (a dummy on ranks other than 0)
        with masked_argv():
            return super().experiment
