"""Content: inline, or from a stored template per category, channel and locale.

Templates are Jinja2 in a sandbox; HTML is autoescaped. A template that does not compile is
refused when it is saved, so sending never meets a syntax error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tidings.core.errors import UserInputError

MAX_TEMPLATE = 64 * 1024

_text_env = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
_html_env = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


@dataclass(frozen=True)
class Content:
    title: str
    body: str
    html: str | None = None


class RenderError(Exception):
    """A template failed at render time (a variable it needs is missing, say)."""


def check_template(source: str, field: str, *, html: bool = False) -> str:
    """Compile once to catch syntax errors at save time; returns the source."""
    if len(source) > MAX_TEMPLATE:
        raise UserInputError("TOO_LONG", f"At most {MAX_TEMPLATE} characters.", field)
    env = _html_env if html else _text_env
    try:
        env.from_string(source)
        tree = env.parse(source)
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        where = f" (line {line})" if line else ""
        raise UserInputError("INVALID_TEMPLATE", f"Template error{where}: {error}", field) from None
    # The sandbox refuses these at render time; refusing them here keeps sends from failing.
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = getattr(node, "attr", None) or getattr(getattr(node, "arg", None), "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise UserInputError(
                "INVALID_TEMPLATE",
                f"Template error (line {node.lineno}): '{name}' is not allowed.",
                field,
            )
    return source


def render(template: Content, variables: Mapping[str, Any]) -> Content:
    try:
        return Content(
            title=_text_env.from_string(template.title).render(variables),
            body=_text_env.from_string(template.body).render(variables),
            html=_html_env.from_string(template.html).render(variables) if template.html else None,
        )
    except TemplateError as error:
        raise RenderError(type(error).__name__) from None


def locale_chain(locale: str, default: str = "en") -> list[str]:
    """ "zh-Hant-TW" → ["zh-Hant-TW", "zh-Hant", "zh", "en"]: most specific first."""
    parts = locale.split("-")
    chain = ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]
    if default not in chain:
        chain.append(default)
    return chain


def pick_template(
    templates: Mapping[str, Content], locale: str, default: str = "en"
) -> Content | None:
    """The template for the most specific locale available, falling back to the default."""
    for candidate in locale_chain(locale, default):
        if candidate in templates:
            return templates[candidate]
    return None


def template_variables(
    name: str | None, locale: str, attributes: Mapping[str, Any], data: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What a template may use: the customer's name, locale and attributes, and the send's data.
    Contact points are deliberately absent."""
    return {
        "customer": {"name": name or "", "locale": locale, "attributes": dict(attributes)},
        "data": dict(data or {}),
    }


def digest_content(items: Iterable[Content], locale: str) -> Content:
    """One combined message for a customer's held deliveries of a period."""
    entries = list(items)
    title = f"{len(entries)} updates" if not locale.startswith("zh") else f"{len(entries)} 条更新"
    body = "\n\n".join(f"{item.title}\n{item.body}" for item in entries)
    return Content(title=title, body=body)
