"""Content: inline, or from a stored template per category, channel and locale.

Templates are Jinja2 in a sandbox; HTML is autoescaped. A template is checked when it is
saved (`check_template`): a syntax error, a variable outside `TEMPLATE_VARIABLES`, an unknown
filter or a closed name is refused there, with its field and line, so sending never meets
them. What only the send can tell (a `data` key the send lacks) fails that delivery with a
`RenderError` that names the field, the line and the missing key, never a value.

Everything a template does goes through `check_template` and `render`, so that compiling
and rendering can move off the event loop, under time and size limits, in one place. Both
take and return plain values (strings, `Content`, dicts) and `RenderError` pickles, so that
place may be a thread or another process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tidings.core.delivery.template_scan import (
    find_problems,
    literal_names,
    missing_path,
    variable_tree,
)
from tidings.core.errors import UserInputError

MAX_TEMPLATE = 64 * 1024

# What a template may read: the one list the validator, `template_variables` and
# docs/templates.md agree on (a test holds them together). `.*` ends a free-form map.
TEMPLATE_VARIABLES: tuple[str, ...] = (
    "customer.name",
    "customer.locale",
    "customer.attributes.*",
    "data.*",
)
# Jinja's global functions a template may call (`lipsum`, random filler text, is left out).
TEMPLATE_FUNCTIONS: tuple[str, ...] = ("cycler", "dict", "joiner", "namespace", "range")

_VARIABLE_TREE = variable_tree(TEMPLATE_VARIABLES)
_TEMPLATE_FILE = "<template>"  # the file name Jinja gives a template compiled from a string
# Exceptions whose text is fixed by Python and never carries a value from the template.
_PLAIN_CAUSES = (ZeroDivisionError, OverflowError, RecursionError)


class _Undefined(StrictUndefined):
    """Strict: a missing value fails the render instead of printing as nothing. Its message
    names the key alone, never the object it was looked up in."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        return self._undefined_hint or f"{self._undefined_name!r} is undefined"


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=autoescape, undefined=_Undefined)
    for name in set(env.globals) - set(TEMPLATE_FUNCTIONS):
        del env.globals[name]
    return env


_text_env = _environment(autoescape=False)
_html_env = _environment(autoescape=True)

TEMPLATE_FILTERS: tuple[str, ...] = tuple(sorted(_text_env.filters))
TEMPLATE_TESTS: tuple[str, ...] = tuple(sorted(_text_env.tests))


@dataclass(frozen=True)
class Content:
    title: str
    body: str
    html: str | None = None


class RenderError(Exception):
    """A template failed at send time: `str()` names the field, the line and the cause
    (`body, line 3: data.order_id is undefined`), and carries no value from the data."""

    def __init__(self, field: str, line: int | None, cause: str) -> None:
        super().__init__(field, line, cause)  # plain args: it pickles across processes
        self.field = field
        self.line = line
        self.cause = cause

    def __str__(self) -> str:
        where = f"{self.field}, line {self.line}" if self.line else self.field
        return f"{where}: {self.cause}"


def check_template(source: str, field: str, *, html: bool = False) -> str:
    """Refuse, as `INVALID_TEMPLATE` on `field`, what would fail every send: a syntax error,
    an unknown variable, filter or test, a closed name, a tag that loads other templates.
    Returns the source."""
    if len(source) > MAX_TEMPLATE:
        raise UserInputError("TOO_LONG", f"At most {MAX_TEMPLATE} characters.", field)
    env = _html_env if html else _text_env
    try:
        tree = env.parse(source)
        problems = find_problems(
            tree, _VARIABLE_TREE, TEMPLATE_FUNCTIONS, TEMPLATE_FILTERS, TEMPLATE_TESTS
        )
        if not problems:
            env.from_string(source)  # what only compiling finds
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        raise _invalid(field, line, getattr(error, "message", None) or str(error)) from None
    except (RecursionError, SyntaxError):  # Jinja's parser, or Python compiling its output
        raise _invalid(field, None, "the template is nested too deeply") from None
    if problems:
        first = problems[0]
        message = first.message
        if message.startswith("unknown variable"):
            message += f"; a template may use: {', '.join(TEMPLATE_VARIABLES)}"
        raise _invalid(field, first.line, message)
    return source


def _invalid(field: str, line: int | None, message: str) -> UserInputError:
    where = f"{field}, line {line}" if line else field
    return UserInputError("INVALID_TEMPLATE", f"{where}: {message}", field)


def render(template: Content, variables: Mapping[str, Any]) -> Content:
    """The template filled in for one recipient; a failure raises `RenderError`."""
    return Content(
        title=_render_field("title", template.title, variables, _text_env),
        body=_render_field("body", template.body, variables, _text_env),
        html=_render_field("html", template.html, variables, _html_env) if template.html else None,
    )


def _render_field(
    field: str, source: str, variables: Mapping[str, Any], env: ImmutableSandboxedEnvironment
) -> str:
    try:
        return env.from_string(source).render(variables)
    except Exception as error:  # a template can make Python raise anything: none may escape
        line = _template_line(error)
        raise RenderError(field, line, _cause(error, source, line, variables, env)) from None


def _template_line(error: BaseException) -> int | None:
    """The template line that failed: Jinja rewrites tracebacks to point into the source."""
    line = getattr(error, "lineno", None) if isinstance(error, TemplateSyntaxError) else None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _cause(
    error: Exception,
    source: str,
    line: int | None,
    variables: Mapping[str, Any],
    env: ImmutableSandboxedEnvironment,
) -> str:
    """What went wrong, in words that repeat the template but nothing from the data."""
    if isinstance(error, _PLAIN_CAUSES):
        return str(error)
    if not isinstance(error, TemplateError):
        return f"the template raised {type(error).__name__}"
    try:
        tree = env.parse(source)
    except TemplateError:
        return getattr(error, "message", None) or type(error).__name__
    if isinstance(error, UndefinedError):
        path = missing_path(tree, line, variables)
        if path is not None:
            return f"{path} is undefined"
        if not any(str(error) == f"{name!r} is undefined" for name in literal_names(tree)):
            return "a value looked up by a key computed at send time is undefined"
    return str(error)


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
