"""desivoid_ml: DESI DR1 galaxies and DESIVAST voids, from FITS to PostgreSQL to embeddings."""

__version__ = "0.1.0"
