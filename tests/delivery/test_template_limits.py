"""A template is held to limits on time, loop iterations, output and the values it builds:
what breaks one is refused when saved, naming the limit and the line, and a render that
breaks one at send fails with that cause. Here the render functions themselves, in this
process (test_template_sandbox.py runs them in their own processes)."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from tidings.core.delivery.render import (
    Content,
    RenderError,
    check_template,
    render,
    template_variables,
)
from tidings.core.delivery.template_limits import TemplateLimits
from tidings.core.errors import UserInputError

NESTED = "Hi\n{% for i in range(25000) %}{% for j in range(25000) %}{% endfor %}{% endfor %}"
# Recursion without a loop: 2**30 macro calls.
RECURSION = (
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}"
)


def refusal(source: str, field: str = "body", html: bool = False) -> str:
    with pytest.raises(UserInputError) as refused:
        check_template(source, field, html=html)
    assert (refused.value.code, refused.value.field) == ("INVALID_TEMPLATE", field)
    return refused.value.message


def test_a_constant_too_large_is_refused_without_being_built() -> None:
    """Jinja folded `"x" * 4*10**8` while compiling: 400 MB and seconds before any check."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = refusal('Hello\n{{ "x" * 4*10**8 }}')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == "body, line 2: a string over 262144 characters"
    assert time.perf_counter() - started < 2
    assert peak < 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (NESTED, "body, line 2: more than 100000 loop iterations"),
        (RECURSION, "body: rendering took over 200 ms"),
        (
            '{% for i in range(1000) %}{{ "x" * 1000 }}{% endfor %}',
            "body: output over 262144 bytes",
        ),
        ("{{ 10 ** 100000000 }}", "body, line 1: a number over 262144 bytes"),
        ("{{ [1, 2] * 200000 }}", "body, line 1: a list over 262144 items"),
        (
            '{% set ns = namespace(s="x") %}\n{% for i in range(40) %}'
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
            "body, line 2: a string over 262144 characters",
        ),
        (
            '{% set ns = namespace(s="x") %}{% for i in range(40) %}'
            "{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "body, line 1: a string over 262144 characters",
        ),
    ],
    ids=["nested-loops", "recursion", "output", "power", "list", "concat", "plus"],
)
def test_a_template_that_breaks_a_limit_is_refused_naming_it(source: str, message: str) -> None:
    started = time.perf_counter()
    assert refusal(source) == message
    assert time.perf_counter() - started < 3


def test_the_trial_render_reaches_past_what_the_send_supplies() -> None:
    """Values from the send read as empty in the trial, so a loop after them still runs."""
    source = "{{ data.order_id }} {{ customer.attributes.plan }}\n{% if data.x %}{% endif %}\n"
    assert refusal(source + NESTED) == "body, line 4: more than 100000 loop iterations"
    assert refusal(NESTED, "html", html=True) == "html, line 2: more than 100000 loop iterations"


def test_a_cost_that_depends_on_the_data_is_accepted_and_fails_the_send() -> None:
    source = (
        "{% for a in data.rows %}{% for b in data.rows %}\n"
        "{% for c in data.rows %}{{ c }}{% endfor %}{% endfor %}{% endfor %}"
    )
    assert check_template(source, "body") == source
    small = render(Content("t", source), template_variables(None, "en", {}, {"rows": [1, 2]}))
    assert small.body.count("1") == 4
    with pytest.raises(RenderError) as failed:
        # 47 rows: the 100,001st iteration is one of the innermost loop's, on line 2.
        render(Content("t", source), template_variables(None, "en", {}, {"rows": list(range(47))}))
    assert str(failed.value) == "body, line 2: more than 100000 loop iterations"
    assert failed.value.limit == "iterations"


def test_iterations_count_across_the_fields_of_one_render() -> None:
    loop = "{% for i in range(60000) %}{% endfor %}"
    limits = TemplateLimits()
    assert render(Content(loop, "b"), {}, limits).title == ""
    with pytest.raises(RenderError) as failed:
        render(Content(loop, loop), {}, limits)
    assert str(failed.value) == "body, line 1: more than 100000 loop iterations"
    tight = TemplateLimits(max_iterations=10)
    with pytest.raises(RenderError):
        render(Content("t", "{% for i in range(11) %}{% endfor %}"), {}, tight)
    assert render(Content("t", "{% for i in range(10) %}.{% endfor %}"), {}, tight).body == "." * 10


def test_output_is_measured_in_utf8_bytes() -> None:
    limits = TemplateLimits(max_output=300)
    assert render(Content("t", "订" * 100), {}, limits).body == "订" * 100  # 300 bytes
    with pytest.raises(RenderError) as failed:
        render(Content("t", "订" * 101), {}, limits)
    assert str(failed.value) == "body: output over 300 bytes"
    assert failed.value.limit == "output"


def test_loops_behave_as_before_when_counted() -> None:
    """The counter sits between every loop and its iterable: what loops offer is unchanged."""
    source = (
        "{% for k, v in data.pairs %}{{ loop.index }}/{{ loop.length }}:{{ k }}={{ v }}"
        "{% if not loop.last %},{% endif %}{% endfor %}|"
        "{% for x in data.empty %}x{% else %}none{% endfor %}|"
        "{% for x in data.nums if x is odd %}{{ x }}{{ loop.revindex }}{% endfor %}|"
        "{% for n in data.tree recursive %}{{ n.name }}"
        "{% if n.kids %}({{ loop(n.kids) }}){% endif %}{% endfor %}|"
        "{{ 'a' ~ 1 ~ data.b }}"
    )
    values = template_variables(
        None,
        "en",
        {},
        {
            "pairs": [["a", 1], ["b", 2]],
            "empty": [],
            "nums": [1, 2, 3],
            "tree": [{"name": "r", "kids": [{"name": "c", "kids": []}]}],
            "b": "<b>",
        },
    )
    assert render(Content("t", source), values).body == "1/2:a=1,2/2:b=2|none|1231|r(c)|a1<b>"
    html = render(Content("t", "b", "{{ 'x' ~ data.b }}"), values).html
    assert html == "x&lt;b&gt;"  # `~` still escapes in HTML


def test_autoescape_takes_a_constant_which_compiling_does_not_compute() -> None:
    """Jinja evaluates `{% autoescape %}`'s value while compiling, filters included."""
    source = '{% autoescape "x" | center(400000000) %}{{ data.a }}{% endautoescape %}'
    started = time.perf_counter()
    assert refusal(source) == "body, line 1: {% autoescape %} takes true or false"
    assert time.perf_counter() - started < 1
    plain = "{% autoescape false %}{{ data.a }}{% endautoescape %}"
    assert check_template(plain, "html", html=True) == plain
