#!/usr/bin/env python
"""Download the public DESI DR1 FastSpecFit and DESIVAST catalogs, resumable and verified.

Examples:
    python scripts/download_dr1.py --dry-run
    python scripts/download_dr1.py --only desivast --dest data/dr1
The options and the list of files live in desivoid_ml.download.
"""

from __future__ import annotations

import sys

from desivoid_ml.download import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
