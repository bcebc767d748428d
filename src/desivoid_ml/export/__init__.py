"""`desivoid export`: features, embeddings and analysis tables to Parquet, FITS or CSV,
streamed from the database by binary COPY with memory flat in the number of rows."""
