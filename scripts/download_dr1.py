#!/usr/bin/env python
"""Download the public DESI DR1 FastSpecFit and DESIVAST catalogs, resumable and verified.

The same as `desivoid download` (see `desivoid download --help`), e.g.
    python scripts/download_dr1.py --dry-run
    python scripts/download_dr1.py --only desivast --dest data/dr1
"""

from __future__ import annotations

import sys

from desivoid_ml.cli import main

if __name__ == "__main__":
    sys.argv.insert(1, "download")
    main()
