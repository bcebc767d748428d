"""`pip install .` into a fresh virtual environment (not editable) works away from the checkout:
the console script runs, the package imports, and its configs, SQL and web assets travel inside
it. The heavy dependencies are borrowed from the project's environment through a `.pth` file
(not downloaded), and the project itself is installed with --no-deps --no-build-isolation."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

COMPOSE_ALL = """
from hydra import compose, initialize_config_dir
from desivoid_ml.analysis.config import load_config as analysis
from desivoid_ml.features.config import load_config as features
from desivoid_ml.ingest.config import load_options
from desivoid_ml.settings import config_dir
with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
    train = compose("train", overrides=["experiment=ae16"])
print(train.data._target_, features(["density.k=7"]).density.k,
      load_options(overrides=["chunk_rows=5"]).chunk_rows, analysis().algorithms[0])
"""

ASSETS = """
from importlib import resources
from desivoid_ml.db.migrations import available
print(len(available()) >= 5, resources.files("desivoid_ml.finder").joinpath("templates").is_dir())
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv holding desivoid_ml installed by `pip install .`, dependencies borrowed."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    pip = [python, "-m", "pip", "-q", "--disable-pip-version-check"]
    # ensurepip's setuptools (65) predates the build backend pyproject.toml asks for (>= 68):
    # drop it, so the build uses the borrowed one, as build isolation would use a new one
    subprocess.run([*pip, "uninstall", "-y", "setuptools"], check=True, timeout=120)
    result = subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--ignore-installed", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return env_dir


def _run(venv: Path, cwd: Path, *command: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DESIVOID_CONFIG_DIR")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [str(venv / "bin" / command[0]), *command[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_package_imports_from_the_venv_not_the_checkout(venv, tmp_path) -> None:
    code = (
        "import desivoid_ml, desivoid_ml.settings as s; print(desivoid_ml.__file__, s.config_dir())"
    )
    module, configs = _run(venv, tmp_path, "python", "-c", code).split()
    assert Path(module).is_relative_to(venv) and not Path(module).is_relative_to(ROOT)
    assert Path(configs).is_relative_to(venv) and not Path(configs).is_symlink()
    names = {p.name for p in Path(configs).glob("*.yaml")}
    assert {"train.yaml", "features.yaml", "ingest.yaml", "analysis.yaml"} <= names
    assert (Path(configs) / "data" / "feature_set" / "properties.yaml").is_file()


def test_desivoid_features_help_runs_from_the_console_script(venv, tmp_path) -> None:
    out = _run(venv, tmp_path, "desivoid", "features", "--help")
    assert "features.galaxy" in out


def test_every_primary_config_composes_from_the_install(venv, tmp_path) -> None:
    out = _run(venv, tmp_path, "python", "-c", COMPOSE_ALL).split()
    assert out == ["desivoid_ml.data.datamodule.FeatureDataModule", "7", "5", "VoidFinder"]
    assert _run(venv, tmp_path, "python", "-c", ASSETS).split() == ["True", "True"]


SQLALCHEMY_2_KEPT = """
import sqlalchemy, optuna
from hydra_plugins.desivoid_sweeper.sweeper import DesivoidOptunaSweeper
from desivoid_ml.sweeps import storage_url
print(sqlalchemy.__version__, sqlalchemy.__file__, optuna.__version__)
"""


def test_installing_the_sweep_extra_keeps_the_sqlalchemy_2_already_there(tmp_path) -> None:
    """A venv that already holds SQLAlchemy 2 (copied in, as pip would have installed it) gets
    `pip install '.[sweep]'` with dependency resolution and no index: a pin below 2 (or on any
    package not already there) would need a download and fail; nothing replaces SQLAlchemy."""
    import shutil

    import sqlalchemy

    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    ours = Path(sqlalchemy.__file__).parent
    for source in [ours, *ours.parent.glob(f"sqlalchemy-{sqlalchemy.__version__}.dist-info")]:
        shutil.copytree(source, site / source.name)
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "-q", "uninstall", "-y", "setuptools"], check=True, timeout=120)
    result = subprocess.run(
        [*pip, "install", "--no-index", "--no-build-isolation", f"{ROOT}[sweep]"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "uninstalling sqlalchemy" not in result.stdout.lower()
    version, module, optuna_version = _run(
        env_dir, tmp_path, "python", "-c", SQLALCHEMY_2_KEPT
    ).split()
    assert version == sqlalchemy.__version__ and version.startswith("2.")
    assert Path(module).is_relative_to(site)  # the venv's own copy, still there
    assert int(optuna_version.split(".")[0]) >= 4
