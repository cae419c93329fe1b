"""The layering holds: `api → schema → core → plugins`, providers beside core, a pure policy
engine, and a `tidings.plugins` a vendor can import without pulling in our ORM or GraphQL.

The contracts live in pyproject.toml (`[tool.importlinter]`), where a reader finds them; this
test runs them, and checks at run time what a static import graph cannot: which modules
importing a package really loads.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def _loaded_by(module: str) -> list[str]:
    """Every module in `sys.modules` after importing `module` in a fresh interpreter."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def test_plugins_load_only_pluggy_and_the_standard_library() -> None:
    """What a vendor's package gets from `import tidings.plugins`: ours, pluggy, stdlib."""
    foreign = [
        name
        for name in _loaded_by("tidings.plugins")
        if _top(name) not in sys.stdlib_module_names
        and _top(name) not in {"pluggy", "tidings", "_distutils_hack", "__main__"}
        and not name.startswith("__editable__")
        and not (name.startswith("tidings.") and not name.startswith("tidings.plugins"))
    ]
    ours = [
        name
        for name in _loaded_by("tidings.plugins")
        if name.startswith("tidings.") and not name.startswith("tidings.plugins")
    ]
    assert foreign == []
    assert ours == []


def test_policy_engine_loads_no_orm() -> None:
    loaded = _loaded_by("tidings.core.policy")
    assert [m for m in loaded if _top(m) in {"tortoise", "strawberry", "graphql"}] == []
    assert [m for m in loaded if m.startswith("tidings.core.models")] == []


def test_core_errors_carry_no_graphql_extensions() -> None:
    """Domain errors are plain: the schema layer decides how they look in GraphQL."""
    tree = ast.parse((ROOT / "core" / "errors.py").read_text(encoding="utf-8"))
    named = [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "extensions")
        or (isinstance(node, ast.Attribute) and node.attr == "extensions")
    ]
    assert named == [], f"core/errors.py names `extensions` on lines {named}"


def test_in_app_provider_is_a_builtin_plugin_like_the_others() -> None:
    """Registered through `tidings_providers` from the one list of built-ins, not added aside."""
    from tidings.plugins.manager import load_providers, plugin_manager
    from tidings.providers import BUILTIN_PROVIDER_MODULES, in_app

    assert in_app in BUILTIN_PROVIDER_MODULES
    manager = plugin_manager(builtins=BUILTIN_PROVIDER_MODULES, entry_points=False)
    assert [p.channel for p in load_providers(manager, {})] == ["in_app"]
    app_source = (ROOT / "api" / "app.py").read_text(encoding="utf-8")
    assert "in_app" not in app_source
