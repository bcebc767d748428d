"""The public DESI DR1 files this project reads: where they are and how large they are."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_BASE_URL = "https://data.desi.lbl.gov/public/dr1/vac/dr1"
BASE_URL_ENV = "DESIVOID_DR1_URL"
FASTSPEC_DIR = "fastspecfit/iron/v3.0/catalogs"
DESIVAST_DIR = "desivast/v1.0"
# The public tree holds one sha256sum list per directory, named after the directory's path under
# public/ with "/" turned into "_". DESIVAST's name is confirmed (840 bytes: one line per file
# below). FastSpecFit's is UNVERIFIED, derived by the same rule: if it 404s the run only warns,
# and --sha256-file can supply the hashes.
DESIVAST_SUMS = "dr1_vac_dr1_desivast_v1.0.sha256sum"
FASTSPEC_SUMS = "dr1_vac_dr1_fastspecfit_iron_v3.0_catalogs.sha256sum"


@dataclass(frozen=True)
class RemoteFile:
    """A public file: its directory under the base URL, its name, listed size, checksum list."""

    directory: str
    name: str
    size: int | None = None
    checksums: str | None = None

    def url(self, base_url: str) -> str:
        """Full URL of the file under base_url."""
        return f"{base_url.rstrip('/')}/{self.directory}/{self.name}"

    def checksums_url(self, base_url: str) -> str | None:
        """URL of the sha256sum list that covers this file, or None when none is published."""
        if self.checksums is None:
            return None
        return f"{base_url.rstrip('/')}/{self.directory}/{self.checksums}"


# What is fetched. Sizes (bytes) are those other projects list for the public files; they agree
# with the MB figures of the FastSpecFit docs (26.4 GiB for the 12 files). They feed --dry-run,
# the free-space check and a warning only: the sha256 decides.
DATASETS: dict[str, tuple[RemoteFile, ...]] = {
    "fastspec": tuple(
        RemoteFile(FASTSPEC_DIR, name, size, FASTSPEC_SUMS)
        for name, size in (
            ("fastspec-iron-main-bright-nside1-hp00.fits", 447_563_520),
            ("fastspec-iron-main-bright-nside1-hp01.fits", 4_468_049_280),
            ("fastspec-iron-main-bright-nside1-hp02.fits", 5_968_638_720),
            ("fastspec-iron-main-bright-nside1-hp03.fits", 1_773_118_080),
            ("fastspec-iron-main-bright-nside1-hp04.fits", 4_312_356_480),
            ("fastspec-iron-main-bright-nside1-hp05.fits", 1_322_732_160),
            ("fastspec-iron-main-bright-nside1-hp06.fits", 5_919_598_080),
            ("fastspec-iron-main-bright-nside1-hp07.fits", 2_959_801_920),
            ("fastspec-iron-main-bright-nside1-hp08.fits", 359_242_560),
            ("fastspec-iron-main-bright-nside1-hp09.fits", 293_886_720),
            ("fastspec-iron-main-bright-nside1-hp10.fits", 200_378_880),
            ("fastspec-iron-main-bright-nside1-hp11.fits", 293_852_160),
        )
    ),
    "desivast": tuple(
        RemoteFile(DESIVAST_DIR, name, size, DESIVAST_SUMS)
        for name, size in (
            ("DESIVAST_BGS_VOLLIM_VoidFinder_NGC.fits", 3_864_960),
            ("DESIVAST_BGS_VOLLIM_VoidFinder_SGC.fits", 578_880),
            ("DESIVAST_BGS_VOLLIM_V2_VIDE_NGC.fits", 459_138_240),
            ("DESIVAST_BGS_VOLLIM_V2_VIDE_SGC.fits", 61_980_480),
            ("DESIVAST_BGS_VOLLIM_V2_ZOBOV_NGC.fits", 44_026_560),
            ("DESIVAST_BGS_VOLLIM_V2_ZOBOV_SGC.fits", 6_644_160),
            ("DESIVAST_BGS_VOLLIM_V2_REVOLVER_NGC.fits", 611_812_800),
            ("DESIVAST_BGS_VOLLIM_V2_REVOLVER_SGC.fits", 87_442_560),
        )
    ),
}


def resolve_base_url(base_url: str | None = None) -> str:
    """The base URL: the argument, else $DESIVOID_DR1_URL, else the DESI public tree."""
    return (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
