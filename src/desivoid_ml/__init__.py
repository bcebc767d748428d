"""desivoid_ml: DESI DR1 galaxies and DESIVAST voids, from FITS to PostgreSQL to learned embeddings."""

__version__ = "0.1.0"
