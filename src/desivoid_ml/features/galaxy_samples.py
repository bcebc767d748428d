"""Named galaxy samples (configs/features.yaml `samples`): sets of cuts, SQL conditions over
features.galaxy. Training learns from one (`data.sample`); `desivoid validate` counts the rows
each cut removes. Read without Hydra's compose, so `python train.py` (itself a Hydra app) can
resolve a name too."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from desivoid_ml.errors import DesivoidError
from desivoid_ml.settings import config_dir

DEFAULT_SAMPLE = "good_galaxy"


def read_samples() -> DictConfig:
    """The `samples` node of features.yaml (interpolations such as sample_z resolved)."""
    path = config_dir() / "features.yaml"
    try:
        cfg = OmegaConf.load(path)
        samples = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True)["samples"])
    except Exception as exc:  # a missing file or key, or a broken interpolation
        raise DesivoidError(f"{path}: cannot read its `samples`: {exc}") from exc
    return samples


def sample_cuts(name: str, samples: DictConfig | None = None) -> dict[str, str]:
    """The cuts of a named sample, in order; an unknown name is a one-line error."""
    samples = samples if samples is not None else read_samples()
    if name not in samples:
        raise DesivoidError(
            f"sample {name!r} is not defined in features.yaml `samples` "
            f"(defined: {', '.join(samples)})"
        )
    return {str(cut): str(condition) for cut, condition in (samples[name] or {}).items()}


def sample_condition(name: str, samples: DictConfig | None = None) -> str:
    """One SQL condition over features.galaxy: every cut holds (NULL fails); 'true' for none."""
    cuts = sample_cuts(name, samples)
    if not cuts:
        return "true"
    return " AND ".join(f"(({condition}) IS TRUE)" for condition in cuts.values())
