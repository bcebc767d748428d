"""Pruning a sweep trial: a Lightning callback reports the monitored validation metric to the
trial after every validation epoch and stops training when the pruner says so.

The sweeper (hydra_plugins/desivoid_sweeper) registers each trial under its Hydra job number
before launching it; `trial_callbacks()` finds the trial of the job that is training (Hydra's
basic launcher runs jobs in the sweeper's process). Stopping is graceful (`should_stop`): the
sweeper then tells Optuna the trial was PRUNED. optuna-integration's callback raises
TrialPruned from inside `fit` instead, which a crash-tolerant sweep would count as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L

from desivoid_ml.errors import DesivoidError


@dataclass
class TrialEntry:
    trial: object  # optuna.trial.Trial
    monitor: str
    pruned: bool = False


_TRIALS: dict[int, TrialEntry] = {}  # Hydra job number -> its trial


def register(job_num: int, trial, monitor: str) -> TrialEntry:
    """Called by the sweeper before it launches job `job_num`."""
    entry = _TRIALS[job_num] = TrialEntry(trial, monitor)
    return entry


def release(job_num: int) -> TrialEntry | None:
    """Called by the sweeper once the job has returned."""
    return _TRIALS.pop(job_num, None)


class TrialPruning(L.Callback):
    """Report `monitor` each validation epoch; stop training once the trial should be pruned."""

    def __init__(self, entry: TrialEntry) -> None:
        self.entry = entry

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        monitor = self.entry.monitor
        value = trainer.callback_metrics.get(monitor)
        if value is None:
            logged = ", ".join(sorted(trainer.callback_metrics)) or "none"
            raise DesivoidError(
                f"pruning monitor {monitor!r} (hydra.sweeper.monitor) was never logged; "
                f"logged metrics: {logged}"
            )
        self.entry.trial.report(float(value), step=trainer.current_epoch)  # NaN: pruned
        if self.entry.trial.should_prune():
            self.entry.pruned = True
            trainer.should_stop = True


def trial_callbacks() -> list[L.Callback]:
    """[TrialPruning] when this Hydra job is a registered sweep trial, else []."""
    from hydra.core.hydra_config import HydraConfig

    if not _TRIALS or not HydraConfig.initialized():
        return []
    num = HydraConfig.get().job.get("num")
    entry = _TRIALS.get(num) if num is not None else None
    return [TrialPruning(entry)] if entry else []
