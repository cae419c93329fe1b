"""Templates fail loudly: what would fail every send is refused when saved, with its field,
line and name; what only a send can tell fails that delivery with a cause that names the
missing key and repeats nothing from the data."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from tests.conftest import data
from tests.delivery.test_templates import set_template, setup
from tidings.core.delivery.render import (
    TEMPLATE_VARIABLES,
    Content,
    RenderError,
    check_template,
    render,
    template_variables,
)
from tidings.core.errors import UserInputError
from tidings.core.models.messages import Template

MAY_USE = "a template may use: customer.name, customer.locale, customer.attributes.*, data.*"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ customer.first_name }}", f"line 1: unknown variable customer.first_name; {MAY_USE}"),
        ("Hi\n\n{{ first_name }}", f"line 3: unknown variable first_name; {MAY_USE}"),
        ("{{ customer['email'] }}", f"line 1: unknown variable customer.email; {MAY_USE}"),
        ("{{ customer.phone | upper }}", f"line 1: unknown variable customer.phone; {MAY_USE}"),
        ("{{ lipsum(1000) }}", f"line 1: unknown variable lipsum; {MAY_USE}"),
        ("{% if data.x %}\n{{ data.x | shout }}{% endif %}", "line 2: No filter named 'shout'."),
        ("{% if data.x %}{{ data.x is shouty }}{% endif %}", "line 1: No test named 'shouty'."),
        (
            '{% include "other" %}',
            "line 1: {% include %} is not available: a template stands alone",
        ),
        (
            '\n{% extends "base" %}',
            "line 2: {% extends %} is not available: a template stands alone",
        ),
        (
            "{{ data.__class__ }}",
            "line 1: '__class__' is not allowed: names starting with '_' are closed",
        ),
        (
            "ok\n{{ data.order ",
            "line 2: unexpected end of template, expected 'end of print statement'.",
        ),
    ],
)
def test_what_would_fail_every_send_is_refused_with_its_line_and_name(
    source: str, message: str
) -> None:
    with pytest.raises(UserInputError) as refused:
        check_template(source, "body")
    assert (refused.value.code, refused.value.field) == ("INVALID_TEMPLATE", "body")
    assert refused.value.message == f"body, {message}"


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
        "{{ data" + ".a" * 3000 + " }}",
        "{% if data.x %}" * 200 + "{% endif %}" * 200,
    ],
    ids=["parentheses", "attributes", "blocks"],
)
def test_a_template_nested_too_deeply_is_refused_not_a_crash(source: str) -> None:
    with pytest.raises(UserInputError) as refused:
        check_template(source, "html", html=True)
    assert (refused.value.code, refused.value.field) == ("INVALID_TEMPLATE", "html")
    assert refused.value.message == "html: the template is nested too deeply"


@pytest.mark.parametrize(
    "source",
    [
        "{{ customer.name }} ({{ customer.locale }})",
        "{{ customer.attributes.plan }} {{ customer.attributes['favourite colour'] }}",
        "{{ data.order_id }} {{ data['line-items'][0].sku }} {{ data.total | round(2) }}",
        "{{ customer.name.upper() }} {{ customer.name | title }}",
        "{% for item in data.items_list %}{{ loop.index }}. {{ item.sku }}{% endfor %}",
        "{% set customer = data.other %}{{ customer.anything }}",  # its own variable now
        "{% macro line(x) %}- {{ x.sku }}{% endmacro %}{{ line(data.first) }}",
        "{% if data.coupon is defined %}{{ data.coupon }}{% endif %}{{ data.note | default('') }}",
        "{% for n in range(3) %}{{ n }}{% endfor %}{% set ns = namespace(t=0) %}{{ dict(a=1).a }}",
    ],
)
def test_the_documented_variables_and_their_idioms_are_accepted(source: str) -> None:
    assert check_template(source, "body") == source


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("Order\n\n{{ data.order_id }}", "body, line 3: data.order_id is undefined"),
        (
            "{% if data.coupon %}{{ data.coupon }}{% endif %}",
            "body, line 1: data.coupon is undefined",
        ),
        ("{{ customer.attributes.plan }}", "body, line 1: customer.attributes.plan is undefined"),
        ("{{ data.cart.total }}", "body, line 1: data.cart.total is undefined"),
        ("{{ data.items_list[1].sku }}", "body, line 1: data.items_list[1] is undefined"),
        (
            "{% for i in data.items_list %}\n{{ i.sku }}{% endfor %}",
            "body, line 2: 'sku' is undefined",
        ),
        ("Total: {{ data.total / data.count }}", "body, line 1: division by zero"),
        # Keys and values that come from the data are never repeated.
        (
            "{{ customer.attributes[data.secret] }}",
            "body, line 1: a value looked up by a key computed at send time is undefined",
        ),
        (
            "{{ data.items_list.index(data.secret) }}",
            "body, line 1: the template raised ValueError",
        ),
        # A template saved before it was checked fails the same way, by name.
        ("Hi {{ customer.first_name }}", "body, line 1: customer.first_name is undefined"),
    ],
)
def test_a_failed_render_names_field_line_and_key_but_no_value(body: str, error: str) -> None:
    values = template_variables(
        "Li Lei",
        "zh-CN",
        {"vip": True},
        {"secret": "li@example.com", "total": 10, "count": 0, "cart": {}, "items_list": [{}]},
    )
    with pytest.raises(RenderError) as failed:
        render(Content("Hello", body), values)
    assert str(failed.value) == error
    assert "li@example.com" not in str(failed.value) and "Li Lei" not in str(failed.value)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_a_render_error_names_the_field_it_happened_in_and_crosses_processes() -> None:
    values = template_variables(None, "en", {}, {})
    with pytest.raises(RenderError) as failed:
        render(Content("t", "b", "<p>\n{{ data.link }}</p>"), values)
    assert (failed.value.field, failed.value.line) == ("html", 2)
    copy = pickle.loads(pickle.dumps(failed.value))  # issue 10 renders in another process
    assert str(copy) == str(failed.value) == "html, line 2: data.link is undefined"


def test_the_validator_and_the_render_values_agree_on_the_variables() -> None:
    """TEMPLATE_VARIABLES is what check_template accepts: template_variables must provide
    exactly that, a free-form map (`.*`) for any key."""
    values = template_variables("Ann", "en", {"key": 1}, {"key": 2})

    def paths(value: Any, prefix: str) -> set[str]:
        if not isinstance(value, dict):
            return {prefix}
        found: set[str] = set()
        for key, child in value.items():
            name = "*" if key == "key" else key
            found |= paths(child, f"{prefix}.{name}" if prefix else name)
        return found

    assert paths(values, "") == set(TEMPLATE_VARIABLES)
    for path in TEMPLATE_VARIABLES:
        source = "{{ " + path.replace(".*", ".key") + " }}"
        assert render(Content(source, "b"), values).title in {"Ann", "en", "1", "2"}


async def test_set_template_refuses_an_unknown_variable_and_stores_nothing(api) -> None:
    token = await setup(api)
    payload = await set_template(
        api,
        token,
        title="Order {{ data.order }}",
        body="Dear {{ customer.name }},\n\n{{ customer.first_name }}, your order has shipped.",
    )
    assert payload["template"] is None
    assert payload["errors"] == [
        {
            "code": "INVALID_TEMPLATE",
            "field": "body",
            "message": f"body, line 3: unknown variable customer.first_name; {MAY_USE}",
        }
    ]
    payload = await set_template(api, token, html="<p>{{ data.x | nosuch }}</p>")
    assert [(e["field"], e["message"]) for e in payload["errors"]] == [
        ("html", "html, line 1: No filter named 'nosuch'.")
    ]
    assert await Template.all().count() == 0
    assert data(await api.gql("{ templates { locale } }", token=token))["templates"] == []
