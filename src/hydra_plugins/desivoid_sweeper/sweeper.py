"""FailureTolerantOptunaSweeper: hydra-optuna-sweeper 1.2 minus "a failed trial ends the sweep".

Hydra only instantiates sweepers from the `hydra_plugins` package, hence this module's home.
A trial whose task returns NaN (`desivoid_ml.training.train_or_fail_trial` does so when training
crashes inside a sweep) is told to Optuna as FAIL, and the sweep goes on.
"""

from __future__ import annotations

import math

from hydra_plugins.hydra_optuna_sweeper import _impl
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from optuna.trial import TrialState


def tell_nan_as_failed(study):
    """Wrap `study.tell` so that a NaN objective is recorded as a failed trial."""
    tell = study.tell

    def tell_or_fail(trial, values=None, state=None, **kwargs):
        if values is not None and any(math.isnan(float(v)) for v in values):
            return tell(trial, state=TrialState.FAIL, **kwargs)
        return tell(trial, values=values, state=state, **kwargs)

    study.tell = tell_or_fail
    return study


class FailureTolerantOptunaSweeper(OptunaSweeper):
    """The stock sweeper with `tell_nan_as_failed` applied to the study it creates."""

    def sweep(self, arguments: list[str]) -> None:
        create_study = _impl.optuna.create_study

        def create_tolerant_study(*args, **kwargs):
            return tell_nan_as_failed(create_study(*args, **kwargs))

        _impl.optuna.create_study = create_tolerant_study
        try:
            return super().sweep(arguments)
        finally:
            _impl.optuna.create_study = create_study
