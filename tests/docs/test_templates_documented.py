"""docs/templates.md says what a template may use: it must list exactly what the validator
accepts (variables, functions, filters, tests), and its examples must save and render."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tidings.core.delivery.render import (
    TEMPLATE_FILTERS,
    TEMPLATE_FUNCTIONS,
    TEMPLATE_TESTS,
    TEMPLATE_VARIABLES,
    Content,
    check_template,
    render,
    template_variables,
)
from tidings.core.delivery.template_limits import DEFAULT_LIMITS, MiB
from tidings.core.errors import UserInputError
from tidings.plugins import parse_duration

DOC = (Path(__file__).parents[2] / "docs" / "templates.md").read_text(encoding="utf-8")


def section(heading: str) -> str:
    """The text under `## heading`, up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", DOC, re.M | re.S)
    assert match, f"docs/templates.md has no '## {heading}'"
    return match.group(1)


def table_names(text: str) -> list[str]:
    """The code in the first column of each table row."""
    return re.findall(r"^\| `([^`]+)` \|", text, re.M)


def code_names(text: str) -> set[str]:
    """Every name in backticks (operators included, examples with spaces or braces not)."""
    return {name for name in re.findall(r"`([^`\s{}()]+)`", text)}


def test_the_variables_table_lists_exactly_what_a_template_may_use() -> None:
    assert table_names(section("Variables")) == list(TEMPLATE_VARIABLES)


@pytest.mark.parametrize(
    ("heading", "names"),
    [("Functions", TEMPLATE_FUNCTIONS), ("Filters", TEMPLATE_FILTERS), ("Tests", TEMPLATE_TESTS)],
)
def test_functions_filters_and_tests_are_listed_as_they_are(
    heading: str, names: tuple[str, ...]
) -> None:
    listed = code_names(section(heading)) - {"is", "data.coupon"}
    assert listed == set(names)


def test_every_example_saves_and_renders_for_a_customer_without_attributes() -> None:
    examples = re.findall(r"^```jinja\n(.*?)^```", DOC, re.M | re.S)
    assert len(examples) >= 3
    values = template_variables(
        "Li Lei",
        "zh-CN",
        {},
        {"order_id": "1042", "carrier": "DHL", "line_items": [{"title": "Teapot", "quantity": 1}]},
    )
    for source in examples:
        check_template(source, "body")
        body = render(Content("t", source), values).body
        assert "Gold" not in body and "金卡" not in body
    assert "订单 1042 已由 DHL 发出" in render(Content("t", examples[2]), values).body


def test_the_documented_refusal_of_an_unknown_variable_is_the_real_one() -> None:
    [row] = [line for line in DOC.splitlines() if "customer.first_name }}` on line 3" in line]
    documented = row.rsplit("`", 2)[-2]
    with pytest.raises(UserInputError) as refused:
        check_template("Hello\n\n{{ customer.first_name }}", "body")
    assert refused.value.message == documented


def test_the_limits_table_gives_the_codes_limits_and_causes() -> None:
    rows = re.findall(r"^\| [^|]+ \| `([^`]+)`[^|]*\| `([^`]+)` \|$", section("Limits"), re.M)
    limits = DEFAULT_LIMITS
    assert [value for value, _ in rows] == [
        "200ms",
        str(limits.max_iterations),
        str(limits.max_output),
        str(limits.max_output),
        str(limits.memory // MiB),
    ]
    assert parse_duration(rows[0][0], "timeout") == limits.render_timeout
    causes = []
    for source in (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        "{% for i in range(1000) %}{% for j in range(100) %}{% endfor %}{% endfor %}",
        "{% for i in range(300) %}{{ '%1000s' | format(i) }}{% endfor %}",
        "{{ 'x' * 300000 }}",
    ):
        with pytest.raises(UserInputError) as refused:
            check_template(source, "body")
        causes.append(refused.value.message.split(": ", 1)[1])
    causes.append(str(limits.out_of_memory()))  # only a render process has a memory limit
    assert [cause for _, cause in rows] == causes
