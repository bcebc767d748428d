"""Hydra plugin: the Optuna sweeper that keeps going past a failed trial."""
