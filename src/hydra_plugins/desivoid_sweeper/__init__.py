"""Hydra plugin: the project's own Optuna sweeper (ask-and-tell on current Optuna)."""
