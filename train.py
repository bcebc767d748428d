"""Train an autoencoder on features.galaxy: `python train.py experiment=ae16`."""

import hydra
from omegaconf import DictConfig

from desivoid_ml.sweeps import register_resolvers
from desivoid_ml.training import train_or_fail_trial

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    return train_or_fail_trial(cfg)


if __name__ == "__main__":
    main()
