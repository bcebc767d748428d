"""`python train.py` / `desivoid-train`: the Hydra entry point around `training.train`.

Its config path is `settings.config_dir()`, the one config root of every command: the `configs`
folder shipped in the package (in a checkout `desivoid_ml/configs` links to the repository's
`configs/`), or DESIVOID_CONFIG_DIR when set.
"""

import sys

import hydra
from omegaconf import DictConfig

from desivoid_ml.errors import DesivoidError
from desivoid_ml.settings import config_dir
from desivoid_ml.sweeps import register_resolvers
from desivoid_ml.training import train_or_fail_trial

register_resolvers()


CONFIGS = str(config_dir())  # absolute: a file path, not a module


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="train")
def main(cfg: DictConfig) -> float:
    """Train (or run one sweep trial) and return the optimised metric."""
    # sys.argv stays as typed: Lightning's DDP launcher re-runs it for the other ranks (a
    # masked password would not log in); wandb_logger masks the copy wandb records.
    try:
        return train_or_fail_trial(cfg)
    except DesivoidError as exc:  # one line that says what to do next, exit status 2
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
