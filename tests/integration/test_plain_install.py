"""m2pg installed without extras, into a fresh environment, runs every command: a runtime module
that imports a package only the `dev` extra brings fails here, not on a user's machine.

The environment is built once per session (a `pip install` of the whole dependency set takes
about a minute even from pip's cache), and every test below runs m2pg from it, never from the
environment that runs the tests."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import psycopg
import pytest
import typer
from packaging.requirements import Requirement

from toolkit.cli import app

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = [p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]
RUNTIME = {Requirement(r).name for r in PYPROJECT["project"]["dependencies"]}
DEV_ONLY = sorted({Requirement(r).name for r in PYPROJECT["project"]["optional-dependencies"]["dev"]} - RUNTIME)
COMMANDS = sorted(typer.main.get_command(app).commands)
DATABASE = "plain_install"

INSTALLED = """
import importlib.metadata, json, sys, toolkit.cli
present = []
for name in sys.argv[1:]:
    try:
        importlib.metadata.distribution(name)
        present.append(name)
    except importlib.metadata.PackageNotFoundError:
        pass
print(json.dumps({"present": present, "cli": toolkit.cli.__file__}))
"""

IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys
failures = {}
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, package + "."):
        try:
            importlib.import_module(module.name)
        except Exception as error:
            failures[module.name] = f"{type(error).__name__}: {error}"
print(json.dumps(failures))
"""

EVERY_HELP = """
import json, sys
from typer.testing import CliRunner
from toolkit.cli import app
shown = {}
for command in sys.argv[1:]:
    result = CliRunner().invoke(app, [command, "--help"], prog_name="m2pg")
    shown[command] = [result.exit_code, result.output]
print(json.dumps(shown))
"""


def package_sources(into: Path) -> Path:
    """What `pip install .` reads (pyproject, readme, the packages it names), copied so the build
    writes nothing into the work tree; returns the copy."""
    into.mkdir()
    for name in ["pyproject.toml", PYPROJECT["project"]["readme"]]:
        shutil.copy(ROOT / name, into / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, into / package, ignore=shutil.ignore_patterns("__pycache__"))
    return into


def plain_environment(extra_path: Path | None = None) -> dict:
    """This process's environment without what would let the test's own packages or settings leak
    into the installed m2pg: the active venv, PYTHONPATH, user site-packages, M2PG_* options."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith("M2PG_")
    }
    env["PYTHONNOUSERSITE"] = "1"
    if extra_path:
        env["PYTHONPATH"] = str(extra_path)
    return env


def pip_install(venv: Path, *args: str) -> None:
    """pip of `venv`, compiling nothing ahead: the commands compile what they import."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile", *args],
        capture_output=True,
        text=True,
        env=plain_environment(),
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.fixture(scope="session")
def venv(tmp_path_factory) -> Path:
    """A new virtual environment holding m2pg and its runtime dependencies, nothing else."""
    folder = tmp_path_factory.mktemp("plain_install")
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True, env=plain_environment())
    pip_install(folder / "venv", str(package_sources(folder / "src")))
    return folder / "venv"


def run(venv: Path, *args: str, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    """`m2pg ARGS` as a user runs it: the installed script, from a folder outside the work tree."""
    return subprocess.run(
        [str(venv / "bin" / "m2pg"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=plain_environment(extra_path),
        timeout=900,
    )


def unimportable_modules(venv: Path, cwd: Path, extra_path: Path | None = None) -> dict[str, str]:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", IMPORT_EVERY_MODULE, *PACKAGES],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=plain_environment(extra_path),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def migrated(venv, tmp_path_factory, pg_server, dump) -> dict:
    """The demo dump migrated by the plain install's own `m2pg run` into a database of its own."""
    folder = tmp_path_factory.mktemp("plain_run")
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")
    uri = pg_server.get_uri(DATABASE)
    done = run(venv, "run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(folder / "staging"), cwd=folder)
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr[-4000:]  # the demo's bad records quarantined
    return {"folder": folder, "dump": dump, "uri": uri, "staging": folder / "staging"}


def test_the_environment_has_no_dev_only_package(venv, tmp_path):
    """Otherwise a stray import of one would pass unseen, and m2pg must come from the venv itself."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", INSTALLED, *DEV_ONLY],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=plain_environment(),
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["present"] == []
    assert Path(found["cli"]).is_relative_to(venv)


@pytest.mark.parametrize("args", [["--help"], ["--version"]], ids=" ".join)
def test_the_script_starts(venv, tmp_path, args):
    done = run(venv, *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert ("m2pg " if args == ["--version"] else "Usage: m2pg") in done.stdout


@pytest.fixture(scope="module")
def helps(venv, tmp_path_factory) -> dict:
    """Every command's --help, in one process of the plain install (one start of m2pg, not sixteen)."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", EVERY_HELP, *COMMANDS],
        capture_output=True,
        text=True,
        cwd=tmp_path_factory.mktemp("helps"),
        env=plain_environment(),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_shows_its_help(helps, command):
    code, output = helps[command]
    assert code == 0, output[-4000:]
    assert f"Usage: m2pg {command}" in output


def test_every_module_imports(venv, tmp_path):
    """A module no command reaches yet is still shipped: it imports with the runtime dependencies."""
    assert unimportable_modules(venv, tmp_path) == {}


def verify(venv, migrated, staging: Path, cwd: Path, extra_path: Path | None = None):
    """`m2pg verify` of the migrated database, from the plain environment."""
    return run(
        venv,
        "verify",
        "--dump",
        str(migrated["dump"]),
        "--pg-uri",
        migrated["uri"],
        "--staging",
        str(staging),
        cwd=cwd,
        extra_path=extra_path,
    )


def test_verify_passes_after_a_plain_run(venv, migrated):
    done = verify(venv, migrated, migrated["staging"], migrated["folder"])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "verify: PASS" in done.stdout


@pytest.fixture(scope="module")
def planted(venv, tmp_path_factory) -> Path:
    """m2pg's sources with `import pytest` (a dev-only package) added to toolkit/stages/verify/run.py,
    installed without dependencies into a folder that PYTHONPATH puts before the venv's m2pg."""
    folder = tmp_path_factory.mktemp("planted")
    sources = package_sources(folder / "src")
    verify = sources / "toolkit" / "stages" / "verify" / "run.py"
    verify.write_text(verify.read_text() + "\nimport pytest  # noqa: E402, F401\n")
    pip_install(venv, "--no-deps", "--target", str(folder / "site"), str(sources))
    return folder / "site"


def test_a_dev_only_import_fails_the_checks(venv, migrated, planted, tmp_path):
    """The checks above can fail: the same install with a dev-only import planted in verify."""
    assert "pytest" in DEV_ONLY
    failures = unimportable_modules(venv, tmp_path, planted)
    assert failures.get("toolkit.stages.verify.run") == "ModuleNotFoundError: No module named 'pytest'"
    staging = shutil.copytree(migrated["staging"], tmp_path / "staging")
    done = verify(venv, migrated, staging, tmp_path, extra_path=planted)
    assert done.returncode == 1
    assert "No module named 'pytest'" in done.stderr
