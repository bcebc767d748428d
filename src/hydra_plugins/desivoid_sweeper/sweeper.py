"""DesivoidOptunaSweeper: Hydra's `-m` on current Optuna through its ask-and-tell API.

Hydra only instantiates sweepers from the `hydra_plugins` package, hence this module's home; its
config is configs/hydra/sweeper/optuna.yaml. Each round asks Optuna for up to `n_jobs` trials
(under a per-study lock, so processes sharing a study never run more than `n_trials` in all),
launches them as Hydra jobs, and tells Optuna each result: a value, FAIL for a job that raised or
returned NaN (the sweep goes on), PRUNED when the pruning callback stopped it. Bad input (an
unknown sampler or pruner, a search space that does not parse, a storage that cannot be reached)
is one `error:` line and exit status 2 before any trial is recorded.
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig, OmegaConf

from desivoid_ml.errors import DesivoidError
from desivoid_ml.secrets import redact_text

log = logging.getLogger(__name__)

COUNTED = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")  # trials that use up n_trials


class DesivoidOptunaSweeper(Sweeper):
    """The keys users know from hydra-optuna-sweeper, plus `pruner` and `monitor`."""

    def __init__(
        self,
        n_trials: int = 20,
        n_jobs: int = 1,
        direction: str | list[str] = "minimize",
        study_name: str | None = None,
        storage: str | None = None,
        sampler: Any = None,
        pruner: Any = None,
        monitor: str | None = None,
        params: Any = None,
    ) -> None:
        self.n_trials, self.n_jobs = int(n_trials), max(1, int(n_jobs))
        plain = (
            OmegaConf.to_container(direction) if isinstance(direction, ListConfig) else direction
        )
        self.directions = [plain] if isinstance(plain, str) else list(plain)
        self.study_name, self.storage_url = study_name, storage
        self.sampler_config = _plain(sampler)
        self.pruner_config = _plain(pruner)
        self.monitor = monitor
        self.params = _flat(_plain(params) or {})

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        try:
            study, space = self._open_study(arguments)
        except DesivoidError as exc:
            print(f"error: {redact_text(str(exc))}", file=sys.stderr)
            sys.exit(2)
        self._save_multirun_config()
        where = self.storage_url or "memory"
        log.info("study %s in %s: %d trials in all", study.study_name, where, self.n_trials)
        returns: list[JobReturn] = []
        while trials := self._ask(study, space):
            returns.extend(self._run(study, space, trials))
        self._save_results(study)
        return returns

    def _open_study(self, arguments: list[str]):
        """Everything checked first (names, search space, storage), then the study."""
        import optuna

        from desivoid_ml import sweep_samplers as samplers
        from desivoid_ml import sweep_space as search_space

        samplers.check_names(self.sampler_config, self.pruner_config)
        space = search_space.parse(self.params, arguments)
        if not space.params:
            raise DesivoidError("nothing to search: hydra.sweeper.params is empty")
        self._check_composes(space)
        sampler = samplers.make_sampler(self.sampler_config, space.grid)
        pruner = samplers.make_pruner(self.pruner_config)
        if self._is_grid():
            self.n_trials = min(self.n_trials, math.prod(len(v) for v in space.grid().values()))
        storage = self.storage = self._storage()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        from desivoid_ml.sweeps import study_lock

        with study_lock(storage, self.study_name or ""):
            study = optuna.create_study(
                storage=storage,
                sampler=sampler,
                pruner=pruner,
                study_name=self.study_name,
                directions=self.directions,
                load_if_exists=True,
            )
        if [d.name.lower() for d in study.directions] != [d.lower() for d in self.directions]:
            raise DesivoidError(
                f"study {study.study_name} exists with directions "
                f"{[d.name.lower() for d in study.directions]}, not {self.directions}"
            )
        return study, space

    def _check_composes(self, space) -> None:
        """Compose one trial's config (each searched key at its first value) before any trial
        exists: a key the config lacks is bad input, not a failed trial."""
        try:
            self.validate_batch_is_legal([space.overrides(space.example())])
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DesivoidError(f"the search space does not compose: {message}") from exc

    def _storage(self):
        if not self.storage_url:
            return None  # in memory: this process only
        from desivoid_ml.sweeps import open_storage

        return open_storage(str(self.storage_url))

    def _is_grid(self) -> bool:
        return (self.sampler_config or {}).get("name") == "grid"

    def _ask(self, study, space) -> list:
        """Up to n_jobs new trials, none beyond n_trials counted over every process."""
        from optuna.trial import TrialState

        from desivoid_ml.sweeps import study_lock

        distributions = {key: param.distribution for key, param in space.params.items()}
        with study_lock(self.storage, study.study_name):
            states = tuple(TrialState[name] for name in COUNTED)
            done = len(study.get_trials(deepcopy=False, states=states))
            wanted = min(self.n_jobs, self.n_trials - done)
            return [study.ask(distributions) for _ in range(wanted)]

    def _run(self, study, space, trials: list) -> list[JobReturn]:
        """Launch one batch of trials as Hydra jobs and tell Optuna how each ended."""
        from desivoid_ml import pruning

        first = trials[0].number  # job numbers are trial numbers (asked together, under a lock)
        prune = len(self.directions) == 1 and bool(self.monitor)
        entries = {}
        batch = []
        for i, trial in enumerate(trials):
            batch.append(space.overrides(trial.params))
            if prune:
                entries[trial.number] = pruning.register(first + i, trial, str(self.monitor))
        told: set[int] = set()
        try:
            self.validate_batch_is_legal(batch)
            results = self.launcher.launch(batch, initial_job_idx=first)
            for trial, result in zip(trials, results, strict=True):
                entry = entries.get(trial.number)
                self._record(study, trial, result, entry.pruned if entry else False)
                told.add(trial.number)
            return list(results)
        finally:
            for i, trial in enumerate(trials):
                pruning.release(first + i)
                if trial.number not in told:  # the sweep stops here: leave no trial RUNNING
                    _tell(study, trial, state=_state("FAIL"), skip_if_finished=True)

    def _record(self, study, trial, result: JobReturn, pruned: bool) -> None:
        run_id = _run_id(self.config, result)
        if run_id:
            trial.set_user_attr("run_id", run_id)
        try:
            value = result.return_value  # raises what the job raised
        except Exception as exc:
            log.warning("trial %d failed: %s; the sweep goes on", trial.number, exc)
            _tell(study, trial, state=_state("FAIL"))
            return
        if pruned:
            log.info("trial %d pruned", trial.number)
            _tell(study, trial, state=_state("PRUNED"))
            return
        values = _values(value, len(self.directions))
        if values is None:
            log.warning("trial %d returned %r: recorded as failed", trial.number, value)
            _tell(study, trial, state=_state("FAIL"))
        else:
            _tell(study, trial, values)

    def _save_results(self, study) -> None:
        """optimization_results.yaml in the sweep folder, as hydra-optuna-sweeper wrote it: the
        best parameters and value (several objectives: the Pareto front)."""
        complete = [t for t in study.get_trials(deepcopy=False) if t.values is not None]
        if not complete:
            log.warning("study %s has no completed trial", study.study_name)
            return
        if len(self.directions) == 1:
            best = study.best_trial
            results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
            log.info("best trial %d: %s -> %s", best.number, best.params, best.value)
        else:
            front = [{"params": t.params, "values": t.values} for t in study.best_trials]
            results = {"name": "optuna", "solutions": front}
            log.info("Pareto front: %d trials", len(front))
        path = Path(self.config.hydra.sweep.dir) / "optimization_results.yaml"
        path.write_text(OmegaConf.to_yaml(OmegaConf.create(results)))

    def _save_multirun_config(self) -> None:
        """multirun.yaml in the sweep folder, as Hydra's sweepers write it, passwords masked."""
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / "multirun.yaml").write_text(redact_text(OmegaConf.to_yaml(self.config)))


def _tell(study, trial, values=None, **kwargs) -> None:
    """study.tell, except that the grid sampler's `Study.stop()` once its grid is used up (which
    Optuna allows only inside `optimize`) is not an error: the trial is stored by then, and the
    sweep stops by itself because n_trials is capped at the grid's size."""
    try:
        study.tell(trial, values, **kwargs)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise


def _values(value: Any, n: int) -> list[float] | None:
    """The objective values, or None when they are missing or not finite numbers."""
    values = list(value) if isinstance(value, list | tuple | ListConfig) else [value]
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    if len(values) != n or not all(math.isfinite(v) for v in values):
        return None
    return values


def _state(name: str):
    from optuna.trial import TrialState

    return TrialState[name]


def _run_id(config: DictConfig, result: JobReturn) -> str | None:
    """The ml.runs id the trial registered (found by its output folder), if any."""
    try:
        output_dir = result.hydra_cfg.hydra.runtime.output_dir
        from desivoid_ml.sweep_studies import run_of_output_dir

        return run_of_output_dir(config.db.get("dsn"), config.db.get("namespace", ""), output_dir)
    except Exception as exc:  # the link is a convenience: never let it end a sweep
        log.debug("no run id for %s: %s", result.working_dir, exc)
        return None


def _flat(params: dict, prefix: str = "") -> dict[str, str]:
    """`{model: {dropout: ...}}` (as `+hydra.sweeper.params.model.dropout=...` makes it) as
    `{"model.dropout": ...}`, the form the YAML files use."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
