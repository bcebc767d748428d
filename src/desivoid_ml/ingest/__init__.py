"""FITS catalogs into PostgreSQL: reading, catalog recognition, binary COPY loading, manifest."""
