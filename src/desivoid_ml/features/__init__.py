"""Per-galaxy environment (void membership per algorithm, distance to voids, local density)."""
