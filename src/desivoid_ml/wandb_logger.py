"""Lightning's WandbLogger, except that the command line wandb records has passwords masked."""

from __future__ import annotations

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger

from desivoid_ml.secrets import masked_argv


class WandbLogger(LightningWandbLogger):
    """wandb stores `sys.argv` when its run starts; only that moment sees a masked copy."""

    @property
    def experiment(self):  # noqa: ANN201 (wandb's Run, or a dummy on other ranks)
        with masked_argv():
            return super().experiment
