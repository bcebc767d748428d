"""Void vs wall galaxies per void algorithm (`desivoid analyze`)."""
