"""`train(cfg)`: what `python train.py` runs, callable from tests and sweeps; returns the metric."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from desivoid_ml.errors import DatabaseLost, DesivoidError, TableRewritten
from desivoid_ml.features.galaxy_samples import sample_condition
from desivoid_ml.pruning import trial_callbacks
from desivoid_ml.secrets import redact_config, redact_text

log = logging.getLogger(__name__)


def git_commit() -> str | None:
    """The commit of the code that trains (None outside a git checkout)."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _instantiate_all(section: DictConfig | None) -> list:
    """Every `_target_` entry of a config group mapping (callbacks, loggers)."""
    if not section:
        return []
    return [instantiate(item) for item in section.values() if item and "_target_" in item]


def build(cfg: DictConfig):
    """DataModule, model (with normalisation and PCA attached) and Trainer from the config."""
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup("fit")
    model = instantiate(cfg.model, n_features=datamodule.n_features, _convert_="all")
    model.attach_data(datamodule.normalization, datamodule.pca_basis)
    model.run_info = {
        "config": redact_config(OmegaConf.to_container(cfg, resolve=True)),
        "features": datamodule.features,
        "sample": {"name": datamodule.sample, "where": datamodule.sample_sql()},
        "git_commit": git_commit(),
    }
    trainer = instantiate(
        cfg.trainer,
        callbacks=[*_instantiate_all(cfg.get("callbacks")), *trial_callbacks()],
        logger=_instantiate_all(cfg.get("logger")) or False,
    )
    return datamodule, model, trainer


def train(cfg: DictConfig) -> float:
    """Fit, then test the best checkpoint; return `cfg.optimized_metric` for a sweeper."""
    if cfg.data.get("sample"):
        sample_condition(str(cfg.data.sample))  # an unknown name: one line before anything runs
    L.seed_everything(cfg.seed, workers=True)
    if cfg.get("torch_threads"):
        torch.set_num_threads(int(cfg.torch_threads))
    scrub_hydra_outputs()
    datamodule, model, trainer = build(cfg)
    try:
        metrics = _fit_and_test(cfg, datamodule, model, trainer)
    except (DatabaseLost, TableRewritten) as exc:  # one line, and how to go on
        raise type(exc)(f"{_own_message(exc)}; {_resume_advice(trainer)}") from exc
    if cfg.get("register_run") and trainer.is_global_zero:
        from desivoid_ml.runs import register_run

        run_id = register_run(datamodule.db, model, trainer, metrics)
        log.info("registered run %s", run_id)
    return _metric(cfg.get("optimized_metric"), metrics)


def _fit_and_test(cfg: DictConfig, datamodule, model, trainer) -> dict[str, float]:
    """Validation metrics of the fit, then test metrics of the best checkpoint."""
    if cfg.get("train", True):
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    callback = trainer.checkpoint_callback
    if cfg.get("test") and callback and callback.best_model_path:
        trainer.test(model, datamodule=datamodule, ckpt_path="best", verbose=False)
        metrics.update(
            {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        )
    return metrics


def _own_message(exc: BaseException) -> str:
    """The error's own line: a DataLoader worker's error arrives wrapped in its traceback."""
    text = str(exc).strip()
    if "Original Traceback" not in text:
        return text
    return text.splitlines()[-1].split(": ", 1)[-1]


def _resume_advice(trainer) -> str:
    """The command that resumes from the last checkpoint written (or restarts, if none)."""
    from hydra.core.hydra_config import HydraConfig

    callback = trainer.checkpoint_callback
    last = callback.last_model_path if callback else ""
    if HydraConfig.initialized():
        kept = [o for o in HydraConfig.get().overrides.task if not o.startswith("ckpt_path=")]
    else:
        kept = []
    command = redact_text(" ".join(["python train.py", *kept]))
    if last and Path(last).exists():
        return f"resume with: {command} ckpt_path={last}"
    return f"no checkpoint was written yet; start again with: {command}"


def scrub_hydra_outputs() -> None:
    """Mask passwords in the files Hydra wrote before the task ran (.hydra/*.yaml, multirun.yaml):
    a DSN given on the command line would otherwise sit there in clear."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or not HydraConfig.get().runtime.get("output_dir"):
        return
    output = Path(HydraConfig.get().runtime.output_dir)
    for path in [*output.glob(".hydra/*.yaml"), output.parent / "multirun.yaml"]:
        if path.is_file():
            text = path.read_text()
            if redact_text(text) != text:
                path.write_text(redact_text(text))


def _metric(name, metrics: dict[str, float]) -> float | list[float]:
    """The optimised metric; a list of names (a multi-objective sweep) gives a list."""
    if not name:
        return float("nan")
    if not isinstance(name, str):
        return [_metric(one, metrics) for one in name]
    if name not in metrics:
        raise DesivoidError(
            f"optimized_metric {name!r} was never logged; logged metrics: "
            f"{', '.join(sorted(metrics)) or 'none'}"
        )
    return metrics[name]


def train_or_fail_trial(cfg: DictConfig) -> float:
    """`train`, except that inside a sweep a crashing trial returns NaN: Optuna records it as
    failed and the sweep goes on. A metric that was never logged still stops the sweep."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        return train(cfg)
    except DesivoidError:
        raise
    except Exception:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            log.exception("trial failed; the sweep goes on")
            return float("nan")
        raise
