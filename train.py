"""Train an autoencoder on features.galaxy: `python train.py experiment=ae16`."""

from desivoid_ml.train_command import main

if __name__ == "__main__":
    main()
