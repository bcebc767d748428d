"""Train an autoencoder on features.galaxy: `python train.py experiment=ae16`."""

import sys

import hydra
from omegaconf import DictConfig

from desivoid_ml.errors import DesivoidError
from desivoid_ml.secrets import redact_text
from desivoid_ml.sweeps import register_resolvers
from desivoid_ml.training import train_or_fail_trial

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    sys.argv = [redact_text(arg) for arg in sys.argv]  # wandb records the command line
    try:
        return train_or_fail_trial(cfg)
    except DesivoidError as exc:  # one line that says what to do next, exit status 2
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
