"""Autoencoders over galaxy features (LightningModules built from plain dimensions)."""
