"""Content: inline, or from a stored template per category, channel and locale.

Templates are Jinja2 in a sandbox; HTML is autoescaped. A template is checked when it is
saved (`check_template`): a syntax error, a variable outside `TEMPLATE_VARIABLES`, an unknown
filter or a closed name is refused there, with its field and line, so sending never meets
them. What only the send can tell (a `data` key the send lacks) fails that delivery with a
`RenderError` that names the field, the line and the missing key, never a value.

Limits, and where templates run. A marketer's template must not stall the service, so each
render is held to a time, a loop-iteration and an output limit (`template_limits.py`: no
constant folding at compile time, a counter in every loop, values checked before they are
built), and the check at save adds a trial render that refuses a template breaking one.
Both run in processes of their own (`sandbox.py`, `template_process.py`), not threads, by
choice: a thread cannot be stopped, cannot have its memory bounded, and one long call in C
holds the GIL and stalls the event loop it was meant to spare. A process caps its memory,
interrupts a render at the time limit, and can be killed when even that fails. What it costs
is kept off the common case: compiled templates are cached per process (a render no longer
compiles its template: on a small template, about 430 renders a second before, 11,000
after, in process), and a worker's batch goes to the render process in one request (100
small renders in 9 ms, 1,000 in 120 ms, measured on two cores).

`check_template` and `render` are the only ways in; both take and return plain values and
`RenderError` pickles, which is what lets them run in another process. Called directly (as
tests do) they run in the caller's thread, still under the limits but for memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import (
    ChainableUndefined,
    StrictUndefined,
    Template,
    TemplateError,
)

from tidings.core.delivery.template_limits import (
    DEFAULT_LIMITS,
    LimitedEnvironment,
    TemplateLimitError,
    TemplateLimits,
    budget,
)
from tidings.core.delivery.template_scan import (
    failed_line,
    failure_cause,
    find_problems,
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


class _Undefined(StrictUndefined):
    """Strict: a missing value fails the render instead of printing as nothing. Its message
    names the key alone, never the object it was looked up in."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        return self._undefined_hint or f"{self._undefined_name!r} is undefined"


def _environment(*, autoescape: bool, undefined: type = _Undefined) -> LimitedEnvironment:
    env = LimitedEnvironment(autoescape=autoescape, undefined=undefined)
    for name in set(env.globals) - set(TEMPLATE_FUNCTIONS):
        del env.globals[name]
    return env


_text_env = _environment(autoescape=False)
_html_env = _environment(autoescape=True)
# For the trial render when a template is saved: a value the send will supply reads as
# empty (a loop over it runs no times), so the render goes on to what does not depend on it.
_trial_envs = {
    html: _environment(autoescape=html, undefined=ChainableUndefined) for html in (False, True)
}

TEMPLATE_FILTERS: tuple[str, ...] = tuple(sorted(_text_env.filters))
TEMPLATE_TESTS: tuple[str, ...] = tuple(sorted(_text_env.tests))


@dataclass(frozen=True)
class Content:
    title: str
    body: str
    html: str | None = None


class RenderError(Exception):
    """A template failed at send time: `str()` names the field, the line and the cause
    (`body, line 3: data.order_id is undefined`), and carries no value from the data.
    `limit`: which limit the render broke (`TemplateLimitError.kind`), if that is the cause."""

    def __init__(self, field: str, line: int | None, cause: str, limit: str | None = None) -> None:
        super().__init__(field, line, cause, limit)  # plain args: it pickles across processes
        self.field = field
        self.line = line
        self.cause = cause
        self.limit = limit

    def __str__(self) -> str:
        where = f"{self.field}, line {self.line}" if self.line else self.field
        return f"{where}: {self.cause}"


def check_template(
    source: str, field: str, *, html: bool = False, limits: TemplateLimits = DEFAULT_LIMITS
) -> str:
    """Refuse, as `INVALID_TEMPLATE` on `field`, what would fail every send: a syntax error,
    an unknown variable, filter or test, a closed name, a tag that loads other templates,
    and a limit that a trial render (values the send supplies left empty) breaks.
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
            env.template(source)  # what only compiling finds
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
    trial = _trial_envs[html]
    trial.template(source)
    try:
        with budget(limits):
            _render_field(field, source, _SAMPLE, trial, limits)
    except RenderError as error:
        if error.limit:  # anything else may depend on what the send supplies
            raise _invalid(field, error.line, error.cause) from None
    return source


# What the trial render reads: a customer with a name; everything else the send supplies.
_SAMPLE: dict[str, Any] = {"customer": {"name": "Ada", "locale": "en", "attributes": {}}}


def _invalid(field: str, line: int | None, message: str) -> UserInputError:
    where = f"{field}, line {line}" if line else field
    return UserInputError("INVALID_TEMPLATE", f"{where}: {message}", field)


def render(
    template: Content, variables: Mapping[str, Any], limits: TemplateLimits = DEFAULT_LIMITS
) -> Content:
    """The template filled in for one recipient, under `limits` (time and loop iterations
    across all its fields, output per field); a failure raises `RenderError`."""
    compile_template(template)  # compiling is the source's cost, not the render's
    with budget(limits):
        return Content(
            title=_render_field("title", template.title, variables, _text_env, limits),
            body=_render_field("body", template.body, variables, _text_env, limits),
            html=(
                _render_field("html", template.html, variables, _html_env, limits)
                if template.html
                else None
            ),
        )


def compile_template(template: Content) -> None:
    """Compile each field (once: compiled templates are cached), so that no render is charged
    for it; what does not compile is left for the render to report, with its line."""
    fields = [(template.title, _text_env), (template.body, _text_env)]
    if template.html:
        fields.append((template.html, _html_env))
    for source, env in fields:
        with contextlib.suppress(Exception):
            env.template(source)


def _render_field(
    field: str,
    source: str,
    variables: Mapping[str, Any],
    env: LimitedEnvironment,
    limits: TemplateLimits,
) -> str:
    try:
        return _output(env.template(source), variables, limits.max_output)
    except MemoryError:
        error = limits.out_of_memory()
        raise RenderError(field, None, str(error), error.kind) from None
    except TemplateLimitError as error:
        line = failed_line(error) if error.located else None
        raise RenderError(field, line, str(error), error.kind) from None
    except Exception as error:  # a template can make Python raise anything: none may escape
        line = failed_line(error)
        raise RenderError(field, line, failure_cause(error, env, source, line, variables)) from None


def _output(template: Template, variables: Mapping[str, Any], limit: int) -> str:
    """The rendered text, stopped as soon as it is longer than `limit` UTF-8 bytes."""
    env = template.environment
    parts: list[str] = []
    size = 0
    try:
        for part in template.root_render_func(template.new_context(dict(variables))):
            size += len(part)  # characters: never more than the bytes they encode to
            if size > limit:
                break
            parts.append(part)
    except Exception:
        env.handle_exception()  # points the traceback at template lines, as render() does
    text = env.concat(parts)  # type: ignore[attr-defined]
    if size > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
        raise TemplateLimitError("output", f"output over {limit} bytes", located=False)
    return text


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
