"""Stop and restart the embedded server under a running test (the database dropping out)."""

from __future__ import annotations

import threading
import time

from lightning.pytorch.callbacks import Callback

from desivoid_ml.db import embedded


def restart_later(after_s: float) -> threading.Thread:
    """Start the (stopped) embedded server again after `after_s` seconds, in a thread."""

    def start() -> None:
        time.sleep(after_s)
        embedded.start()

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    return thread


class StopServerAt(Callback):
    """Stops the embedded server at a given epoch and batch of training (and never restarts it)."""

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            embedded.stop()
