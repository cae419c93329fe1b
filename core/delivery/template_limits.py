"""The Jinja environment templates run in, and the limits one render is held to.

Three things keep a template from running away, whatever process it runs in:

- Nothing is computed while compiling. Jinja folds constant expressions when it compiles,
  so `{{ "x" * 4*10**8 }}` used to build 400 MB before anything ran. Here the optimizer is
  off, every arithmetic operator is intercepted by the sandbox (an intercepted operator is
  never folded), and a `finalize` that asks for the context keeps Jinja from evaluating
  output expressions at compile time (`{% autoescape %}`, which Jinja also evaluates while
  compiling, must be a constant: `template_scan.py`). Compiling costs time in proportion to
  the source.
- Values built with `*`, `**`, `+` and `~` are checked before they are built: a string or
  list over the output limit, or a number over as many bytes, is refused on the line that
  builds it.
- Every `{% for %}` iterates through a counter: iterations across the whole render (every
  field, nested loops multiplied) stop at `max_iterations`, and the counter also checks the
  render's processor time, as does every call (recursion needs no loop). The counter is
  spliced into the syntax tree when a template compiles, so no template can avoid it.

A C call that is slow without looping (the rest of the time limit) and memory are bounded
by the process that renders: see `sandbox.py`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template, nodes, pass_context, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, soft_str

MiB = 1024 * 1024
# Compiled templates kept per environment (each holds its source's Python code).
COMPILED_TEMPLATES = 256


@dataclass(frozen=True)
class TemplateLimits:
    """What one render may use. `render_timeout` is processor time, in seconds, for all the
    fields of one delivery; `max_output` is UTF-8 bytes per rendered field; `memory` bounds
    the address space of each render process."""

    render_timeout: float = 0.2
    max_output: int = 256 * 1024
    max_iterations: int = 100_000
    memory: int = 256 * MiB

    def out_of_time(self) -> TemplateLimitError:
        return TemplateLimitError(
            "time", f"rendering took over {round(self.render_timeout * 1000)} ms", located=False
        )

    def out_of_memory(self) -> TemplateLimitError:
        return TemplateLimitError(
            "memory", f"the template needed over {self.memory // MiB} MiB of memory", located=False
        )


DEFAULT_LIMITS = TemplateLimits()


class TemplateLimitError(Exception):
    """A render broke a limit: `kind` is which (time, iterations, output, size, memory),
    `str()` says it in words. `located`: whether the line the render was on says anything
    (the loop that ran too long does; where time ran out does not)."""

    def __init__(self, kind: str, message: str, *, located: bool = True) -> None:
        super().__init__(message)
        self.kind = kind
        self.located = located


class _Budget:
    """What is left of one render's allowance (one per thread: renders may run in threads)."""

    __slots__ = ("deadline", "iterations", "limits")

    def __init__(self, limits: TemplateLimits) -> None:
        self.limits = limits
        self.iterations = limits.max_iterations
        self.deadline = time.thread_time() + limits.render_timeout


_state = threading.local()


@contextmanager
def budget(limits: TemplateLimits) -> Iterator[None]:
    """Render under `limits` inside this block (iterations and time count from its start)."""
    previous = getattr(_state, "budget", None)
    _state.budget = _Budget(limits)
    try:
        yield
    finally:
        _state.budget = previous


def _current() -> _Budget:
    found = getattr(_state, "budget", None)
    if found is None:  # rendered outside `budget()`: the default limits, each loop apart
        return _Budget(DEFAULT_LIMITS)
    return found


class _Counted:
    """An iterable whose items are paid for out of the render's budget. Sized when what it
    wraps is, so `loop.length` does not have to consume it first."""

    __slots__ = ("_budget", "_items", "_source")

    def __init__(self, source: Any, spend: _Budget) -> None:
        self._source = source
        self._budget = spend
        self._items: Iterator[Any] | None = None

    def __iter__(self) -> _Counted:
        self._items = iter(self._source)
        return self

    def __len__(self) -> int:
        return len(self._source)

    def __next__(self) -> Any:
        assert self._items is not None
        item = next(self._items)
        spend = self._budget
        spend.iterations -= 1
        if spend.iterations < 0:
            message = f"more than {spend.limits.max_iterations} loop iterations"
            raise TemplateLimitError("iterations", message)
        if spend.iterations % 64 == 0 and time.thread_time() > spend.deadline:
            raise spend.limits.out_of_time()
        return item


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """Returns the value unchanged. It exists because it takes the context: Jinja does not
    evaluate an output expression at compile time when `finalize` needs the context."""
    return value


class _Guards(NodeTransformer):
    """Routes every loop's iterable (and what a recursive loop recurses into) through
    `environment.count_loop`, and every `~` through `environment.join_values`."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = _hook("count_loop", [node.iter], node.lineno)
        if node.recursive:
            for call in list(node.find_all(nodes.Call)):
                if isinstance(call.node, nodes.Name) and call.node.name == "loop" and call.args:
                    call.args[0] = _hook("count_loop", [call.args[0]], call.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return _hook("join_values", node.nodes, node.lineno)


def _hook(name: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
    method = nodes.EnvironmentAttribute(name, lineno=lineno)
    return nodes.Call(method, args, [], None, None, lineno=lineno)


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, compiling without folding and counting what it renders."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, finalize=_finalize, **options)
        # Compiled once per source: a campaign renders one template thousands of times.
        self.template: Callable[[str], Template] = lru_cache(maxsize=COMPILED_TEMPLATES)(
            self.from_string
        )

    def compile(  # type: ignore[override]
        self,
        source: str | nodes.Template,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if isinstance(source, str):
            source = self.parse(source, name, filename)
        _Guards().visit(source)
        return super().compile(source, name, filename, raw, defer_init)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Every call a template makes (a macro, a method, a function) checks the clock
        first: recursion without a loop runs out of time here."""
        spend = _current()
        if time.thread_time() > spend.deadline:
            raise spend.limits.out_of_time()
        return super().call(context, obj, *args, **kwargs)

    def count_loop(self, iterable: Any) -> _Counted:
        """Called by every compiled `{% for %}` on its iterable."""
        return _Counted(iterable, _current())

    @pass_eval_context
    def join_values(self, eval_ctx: EvalContext, *values: Any) -> str:
        """`a ~ b ~ c`, refused before it is joined when the text would be over the limit
        (a loop that doubles a string stops at the limit, not at the machine's memory)."""
        escaping = eval_ctx.autoescape or eval_ctx.volatile
        parts = [soft_str(value) if escaping else str(value) for value in values]
        _check_size("", sum(map(len, parts)), _current().limits.max_output)
        return markup_join(parts) if escaping else "".join(parts)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse, before building it, a value no field could output."""
        limit = _current().limits.max_output
        if operator == "*":
            if not _check_repeat(left, right, limit):
                _check_repeat(right, left, limit)
            if _is_int(left) and _is_int(right):
                _check_bits(left.bit_length() + right.bit_length(), limit)
        elif operator == "**" and _is_int(left) and _is_int(right) and abs(left) > 1:
            if right > 0:
                _check_bits(left.bit_length() * right, limit)
        elif operator == "+" and isinstance(left, str | list | tuple):
            if isinstance(right, str | list | tuple):
                _check_size(left, len(left) + len(right), limit)
        return self.binop_table[operator](left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_repeat(sequence: Any, times: Any, limit: int) -> bool:
    if isinstance(sequence, str | list | tuple) and _is_int(times):
        _check_size(sequence, len(sequence) * times, limit)
        return True
    return False


def _check_size(sequence: Any, size: int, limit: int) -> None:
    if size > limit:
        kind = "string" if isinstance(sequence, str | Markup) else "list"
        unit = "characters" if kind == "string" else "items"
        raise TemplateLimitError("size", f"a {kind} over {limit} {unit}")


def _check_bits(bits: int, limit: int) -> None:
    if bits > limit * 8:
        raise TemplateLimitError("size", f"a number over {limit} bytes")
