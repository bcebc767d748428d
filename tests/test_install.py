"""The package works installed from a wheel (not editable), away from the checkout: its SQL,
configs and web assets travel inside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """desivoid_ml built as a wheel and installed (no dependencies) into a folder of its own."""
    base = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((base / "dist").glob("desivoid_ml-*.whl"))
    target = base / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def _run(installed: Path, cwd: Path, code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    env.pop("DESIVOID_CONFIG_DIR", None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_wheel_imports_from_outside_the_checkout(installed, tmp_path) -> None:
    out = _run(
        installed,
        tmp_path,
        (
            "import desivoid_ml, desivoid_ml.settings as s; "
            "print(desivoid_ml.__file__); print(s.config_dir())"
        ),
    )
    module, configs = out.split()
    assert module.startswith(str(installed)) and not Path(configs).is_symlink()
    assert (Path(configs) / "train.yaml").is_file()
    assert (Path(configs) / "data" / "feature_set" / "properties.yaml").is_file()


def test_the_wheel_composes_its_configs_and_has_its_assets(installed, tmp_path) -> None:
    out = _run(
        installed,
        tmp_path,
        (
            "from desivoid_ml.features.config import load_config; "
            "from desivoid_ml.ingest.config import load_options; "
            "from desivoid_ml.db.migrations import available; "
            "from importlib import resources; "
            "print(load_config(['density.k=7']).density.k, "
            "len(load_options().fastspec_columns) > 0, "
            "len(available()) >= 5, "
            "resources.files('desivoid_ml.finder').joinpath('templates').is_dir())"
        ),
    )
    assert out.split() == ["7", "True", "True", "True"]


def test_desivoid_features_help_runs_from_the_wheel(installed, tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    result = subprocess.run(
        [sys.executable, "-m", "desivoid_ml.cli", "features", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "features.galaxy" in result.stdout, result.stderr
