"""The built wheel installs everything under `tidings.`, and no subpackage is forgotten."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
FOLDERS = ("api", "core", "schema", "plugins", "providers")
# Not part of the installed package: the example vendor plugin is a package of its own.
OUTSIDE = ("plugins/examples",)


@pytest.fixture(scope="module")
def build_output() -> list[str]:
    """What building the wheel printed (pip's and the build backend's output)."""
    return []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, build_output: list[str]) -> zipfile.ZipFile:
    """A wheel built with the venv's pip from a copy of the source (the checkout stays clean)."""
    source = tmp_path_factory.mktemp("source")
    out = tmp_path_factory.mktemp("wheel")
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "*.sqlite3*", "tidings.secret"
    )
    shutil.copytree(REPO, source, ignore=ignore, dirs_exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--verbose", "-w", str(out), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    build_output.append(result.stdout + result.stderr)
    (built,) = out.glob("tidings-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def modules(archive: zipfile.ZipFile) -> list[str]:
    return [name for name in archive.namelist() if ".dist-info/" not in name]


def source_packages() -> list[str]:
    """Every directory with an __init__.py under the package folders, as a dotted name."""
    found = []
    for folder in FOLDERS:
        for init in sorted((REPO / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(REPO).as_posix()
            if "__pycache__" in relative or relative.startswith(OUTSIDE):
                continue
            found.append("tidings." + relative.replace("/", "."))
    return found


def test_every_module_is_under_tidings(wheel):
    names = modules(wheel)
    assert names
    outside = [name for name in names if not name.startswith("tidings/")]
    assert outside == []
    tops = {name.split("/")[1] for name in names}
    assert tops == set(FOLDERS)


@pytest.mark.parametrize(
    "path",
    [
        "tidings/api/cli.py",
        "tidings/api/app.py",
        "tidings/core/models/__init__.py",
        "tidings/core/services/consent.py",
        "tidings/core/migrations/__init__.py",
        "tidings/core/migrations/0001_initial.py",
        "tidings/core/py.typed",
        "tidings/core/common_passwords.txt",
        "tidings/api/static/live.html",
        "tidings/api/static/__init__.py",
        "tidings/api/pages/__init__.py",
        "tidings/api/pages/templates/preferences.html",
        "tidings/api/pages/static/pages.css",
        "tidings/api/dashboard/templates/dashboard.html",
        "tidings/api/dashboard/static/dashboard.js",
        "tidings/api/dashboard/static/echarts.min.js",
        "tidings/api/dashboard/static/echarts-LICENSE.txt",
        "tidings/api/dashboard/static/echarts-NOTICE.txt",
        "tidings/schema/__init__.py",
        "tidings/schema/customers/types.py",
        "tidings/schema/extensions/safe_errors.py",
        "tidings/plugins/__init__.py",
        "tidings/plugins/hookspecs.py",
        "tidings/providers/__init__.py",
    ],
)
def test_wheel_holds(wheel, path):
    assert path in wheel.namelist()


def test_every_source_package_is_in_the_wheel(wheel):
    names = set(wheel.namelist())
    for package in source_packages():
        assert package.replace(".", "/") + "/__init__.py" in names, package


def test_every_source_module_is_in_the_wheel(wheel):
    names = set(wheel.namelist())
    for folder in FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            relative = path.relative_to(REPO).as_posix()
            if "__pycache__" in relative or relative.startswith(OUTSIDE):
                continue
            if not (path.parent / "__init__.py").exists():
                continue  # not a package: nothing to install
            assert f"tidings/{relative}" in names, relative


def test_every_page_template_and_stylesheet_is_in_the_wheel(wheel):
    """The customer pages render from files, not modules: each must be package data."""
    names = set(wheel.namelist())
    files = []
    for folder in (REPO / "api" / "pages", REPO / "api" / "dashboard"):
        files += [*(folder / "templates").glob("*.html"), *(folder / "static").glob("*.css")]
        files += [*(folder / "static").glob("*.js"), *(folder / "static").glob("*.txt")]
    assert len(files) > 10
    for path in files:
        assert f"tidings/{path.relative_to(REPO).as_posix()}" in names


def test_no_example_plugin_in_the_wheel(wheel):
    assert not [name for name in wheel.namelist() if "/examples/" in name]


def test_console_script_entry_point(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode())
    assert parser["console_scripts"]["tidings"].strip() == "tidings.api.cli:main"


def test_top_level_is_only_tidings(wheel):
    (top_level,) = [n for n in wheel.namelist() if n.endswith(".dist-info/top_level.txt")]
    assert wheel.read(top_level).decode().split() == ["tidings"]


def test_pyproject_lists_every_subpackage():
    """A new folder with an __init__.py must be added to `packages`, or it is not installed."""
    listed = set(SETUPTOOLS["packages"])
    missing = [package for package in source_packages() if package not in listed]
    assert missing == [], f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    stale = [
        package
        for package in listed
        if not (REPO / SETUPTOOLS["package-dir"][".".join(package.split(".")[:2])]).exists()
    ]
    assert stale == []


def test_package_dir_maps_each_folder_under_tidings():
    assert SETUPTOOLS["package-dir"] == {f"tidings.{folder}": folder for folder in FOLDERS}


def test_the_build_prints_no_warnings(wheel, build_output):
    """An install says nothing a user must act on: no deprecated licence table, no folder
    left out of `packages` (setuptools warns about both)."""
    (output,) = build_output
    assert "Running command" in output or "Building wheel" in output  # verbose output seen
    warnings = [
        line.strip()
        for line in output.splitlines()
        if "Warning" in line and ("setuptools" in line or "BuildBackend" in line)
    ]
    assert warnings == []


def test_the_licence_is_an_spdx_string():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
