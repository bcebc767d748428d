"""Train an autoencoder on features.galaxy: `python train.py experiment=ae16`."""

import hydra
from omegaconf import DictConfig

from desivoid_ml.training import train


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    return train(cfg)


if __name__ == "__main__":
    main()
