"""`python -m desivoid_ml.cli`."""

from desivoid_ml.cli import main

main()
