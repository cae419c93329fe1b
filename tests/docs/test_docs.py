"""The reference in docs/ mirrors the code: every setting the code reads is documented with
its default (and the defaults written as code are the code's), every command and flag is
documented, and no page links outside the repository."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from tidings.api.cli import build_parser
from tidings.api.settings import Limits, Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SOURCE_FOLDERS = ("api", "core", "schema", "providers", "plugins")
# A vendor's package of its own, with its own README; its settings are named in
# docs/providers.md but are not Tidings' settings.
NOT_OURS = ("plugins/examples",)
SETTING = re.compile(r"TIDINGS_[A-Z0-9_]*[A-Z0-9]\b")  # not a prefix like TIDINGS_SMTP_*
PAGES = (
    "settings",
    "commands",
    "operations",
    "access",
    "audit",
    "delivery",
    "providers",
    "tracking",
    "live",
    "templates",
    "preferences",
    "suppression",
    "webhooks",
    "dashboard",
    "stats",
    "account-security",
    "audit-actions",
    "threat-model",
    "data-rights",
    "encryption",
    "metrics",
    "scaling",
)
# Settings fields whose variable is not simply TIDINGS_ + the field's name in capitals.
FIELD_VARIABLES = {
    "max_depth": "TIDINGS_MAX_QUERY_DEPTH",
    "max_aliases": "TIDINGS_MAX_QUERY_ALIASES",
    "max_tokens": "TIDINGS_MAX_QUERY_TOKENS",
}
# A group of settings; every raw setting; TIDINGS_DATA_KEYS with TIDINGS_BLIND_INDEX_KEY.
NOT_SETTINGS = {"limits", "plugin_config", "keyring"}


def settings_read() -> dict[str, str]:
    """Every TIDINGS_* name in our sources, with the first file that names it."""
    found: dict[str, str] = {}
    for folder in SOURCE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(NOT_OURS):
                continue
            for name in SETTING.findall(path.read_text(encoding="utf-8")):
                found.setdefault(name, relative)
    return found


def documented() -> dict[str, str]:
    """Variable → its default cell, from every table row of docs/settings.md."""
    rows: dict[str, str] = {}
    for line in (DOCS / "settings.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"`TIDINGS_[A-Z0-9_]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def test_the_scan_finds_settings():
    found = settings_read()
    assert {"TIDINGS_DATABASE_URL", "TIDINGS_SMTP_HOST", "TIDINGS_MAX_BODY_BYTES"} <= set(found)


def test_every_setting_the_code_reads_is_documented_with_a_default():
    rows = documented()
    missing = {name: where for name, where in settings_read().items() if name not in rows}
    assert missing == {}, f"document these in docs/settings.md: {missing}"
    blank = [name for name, default in rows.items() if not default]
    assert blank == [], f"give these a default in docs/settings.md: {blank}"


def test_every_documented_setting_exists():
    stale = set(documented()) - set(settings_read())
    assert stale == set(), f"docs/settings.md documents settings nothing reads: {stale}"


def test_every_settings_field_has_a_documented_variable():
    rows = documented()
    fields = [*dataclasses.fields(Settings), *dataclasses.fields(Limits)]
    names = [f.name for f in fields if f.name not in NOT_SETTINGS]
    undocumented = [
        name for name in names if FIELD_VARIABLES.get(name, f"TIDINGS_{name.upper()}") not in rows
    ]
    assert undocumented == [], f"Settings fields with no documented variable: {undocumented}"


SERVICE_SETTINGS = sorted(
    name
    for name, where in settings_read().items()
    if where == "api/settings.py" and name != "TIDINGS_SECRET_KEY"
)


@pytest.mark.parametrize("name", SERVICE_SETTINGS)
def test_a_documented_default_is_the_codes_default(tmp_path, name):
    """Setting a variable to the default docs/settings.md gives changes nothing."""
    default = re.match(r"`([^`]*)`", documented()[name])
    if default is None:  # "unset", "development: generated", ...: nothing to set
        return
    base = {"TIDINGS_SECRET_KEY": "docs-test-secret-" + "d" * 32}
    unset = Settings.load(base, env_file=None, workdir=tmp_path)
    given = Settings.load({**base, name: default.group(1)}, env_file=None, workdir=tmp_path)
    assert dataclasses.replace(given, plugin_config={}) == dataclasses.replace(
        unset, plugin_config={}
    ), f"{name}: docs/settings.md says {default.group(1)!r}, the code differs"


# Commands ---------------------------------------------------------------------------------------


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_and_flag_is_documented():
    text = (DOCS / "commands.md").read_text(encoding="utf-8")
    commands = subcommands()
    assert len(commands) >= 7
    for name, parser in commands.items():
        assert f"## `tidings {name}`" in text, f"docs/commands.md has no section for {name}"
        section = text.split(f"## `tidings {name}`", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert f"`{flag}`" in section or flag in section, f"{name} {flag}"
            for choice in action.choices or ():
                if isinstance(choice, str):
                    assert choice in section, f"{name} {action.dest}: {choice}"


# Links ------------------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_stay_inside_the_repository(page):
    """Relative links resolve to files in the repository (with their headings); nothing
    points at a file a user does not have, like ../shared/CONTRACT.md."""
    text = page.read_text(encoding="utf-8")
    assert "../shared" not in text
    assert "CONTRACT.md" not in text
    for target in LINK.findall(text):
        if re.match(r"https?://", target):
            continue  # a public web page (a library's documentation): every reader has it
        assert not re.match(r"[a-z]+:", target), f"{page.name} links outside: {target}"
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside: {target}"
        assert resolved.exists(), f"{page.name} links to a missing file: {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page.name}: no heading for {target}"


def test_the_index_links_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in PAGES:
        assert f"]({page}.md)" in index, page
        assert (DOCS / f"{page}.md").exists(), page
    listed = {path.stem for path in DOCS.glob("*.md")} - {"README"}
    assert listed <= set(PAGES), f"add to docs/README.md: {listed - set(PAGES)}"
