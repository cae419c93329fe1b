"""What a parsed template reads, checked against the variables a template may use.

`render.py` owns the list of variables (`TEMPLATE_VARIABLES`); this module turns that list
into a tree and walks a template's syntax tree against it, so that a misspelt variable is
refused when the template is saved instead of failing every delivery that uses it. The same
walk later names the missing value when a render fails (`failure_cause`).

A path such as `customer.attributes.*` ends in a free-form map: any key below it is accepted
(whether it exists is only known at send time). Other paths end in a value, whose own
methods (`customer.name.upper()`) are the value's business, not ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, TemplateError, TemplateSyntaxError, UndefinedError, nodes

ANY_KEY = "*"

# A variable tree: a key maps to its children, `None` for a plain value, or {ANY_KEY: None}
# for a map whose keys are the sender's.
VariableTree = dict[str, "VariableTree | None"]

_TEMPLATE_FILE = "<template>"  # the file name Jinja gives a template compiled from a string
# Exceptions whose text is fixed by Python and never carries a value from the template.
_PLAIN_CAUSES = (ZeroDivisionError, OverflowError, RecursionError)
# Names Jinja provides inside loops, macros and blocks.
_IMPLICIT = frozenset({"loop", "caller", "varargs", "kwargs", "self", "super"})
_LOADERS = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


@dataclass(frozen=True)
class Problem:
    """Why a template is refused, and where."""

    line: int
    message: str


def variable_tree(paths: Iterable[str]) -> VariableTree:
    """("customer.name", "data.*") → {"customer": {"name": None}, "data": {"*": None}}."""
    tree: VariableTree = {}
    for path in paths:
        node = tree
        *parents, last = path.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            assert child is not None, f"{path} extends a plain value"
            node = child
        node[last] = None
    return tree


def find_problems(
    tree: nodes.Template,
    variables: VariableTree,
    functions: Iterable[str],
    filters: Iterable[str],
    tests: Iterable[str],
) -> list[Problem]:
    """Everything wrong with a template that can be told without rendering it, by line."""
    problems: list[Problem] = []
    for node in tree.find_all(_LOADERS):
        tag = type(node).__name__.lower().replace("fromimport", "from")
        problems.append(
            Problem(node.lineno, f"{{% {tag} %}} is not available: a template stands alone")
        )
    for node in tree.find_all((nodes.EvalContextModifier, nodes.ScopedEvalContextModifier)):
        # Jinja works out the value while compiling: a constant, so compiling computes nothing.
        if not all(isinstance(option.value, nodes.Const) for option in node.options):
            problems.append(Problem(node.lineno, "{% autoescape %} takes true or false"))
    known_filters, known_tests = set(filters), set(tests)
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        kind, known = ("filter", known_filters)
        if isinstance(node, nodes.Test):
            kind, known = ("test", known_tests)
        if node.name not in known:  # worded as Jinja words those it finds while parsing
            problems.append(Problem(node.lineno, f"No {kind} named {node.name!r}."))
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key = _key(node)
        if isinstance(key, str) and key.startswith("_"):
            message = f"{key!r} is not allowed: names starting with '_' are closed"
            problems.append(Problem(node.lineno, message))
    problems.extend(_unknown_variables(tree, variables, set(functions)))
    return sorted(set(problems), key=lambda problem: (problem.line, problem.message))


def missing_path(tree: nodes.Template, line: int | None, values: Mapping[str, Any]) -> str | None:
    """The first variable read on `line` that `values` lacks, as `data.order_id`: how a
    failed render names its cause without repeating any value."""
    for root, keys in _reads(tree):
        if root.name not in values or (line is not None and root.lineno != line):
            continue
        current: Any = values
        for depth, key in enumerate((root.name, *keys)):
            if isinstance(current, Mapping):
                found = key in current
            elif isinstance(current, Sequence) and not isinstance(current, str):
                found = isinstance(key, int) and -len(current) <= key < len(current)
            else:
                break  # a value's own attribute (a method): not ours to resolve
            if not found:
                return _display(root.name, keys[:depth])
            current = current[key]
    return None


def failed_line(error: BaseException) -> int | None:
    """The template line a render failed on: Jinja rewrites tracebacks to point into the
    source."""
    line = getattr(error, "lineno", None) if isinstance(error, TemplateSyntaxError) else None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def failure_cause(
    error: Exception,
    env: Environment,
    source: str,
    line: int | None,
    values: Mapping[str, Any],
) -> str:
    """What went wrong in a render, in words that repeat the template but nothing from the
    data (`values`)."""
    if isinstance(error, _PLAIN_CAUSES):
        return str(error)
    if not isinstance(error, TemplateError):
        return f"the template raised {type(error).__name__}"
    try:
        tree = env.parse(source)
    except TemplateError:
        return getattr(error, "message", None) or type(error).__name__
    if isinstance(error, UndefinedError):
        path = missing_path(tree, line, values)
        if path is not None:
            return f"{path} is undefined"
        if not any(str(error) == f"{name!r} is undefined" for name in literal_names(tree)):
            return "a value looked up by a key computed at send time is undefined"
    return str(error)


def literal_names(tree: nodes.Template) -> set[str]:
    """Every name and constant key the template spells out: what an error may repeat."""
    names = {node.name for node in tree.find_all(nodes.Name)}
    names.update(node.attr for node in tree.find_all(nodes.Getattr))
    names.update(key for node in tree.find_all(nodes.Getitem) if isinstance(key := _key(node), str))
    return names


def _unknown_variables(
    tree: nodes.Template, variables: VariableTree, functions: set[str]
) -> Iterator[Problem]:
    # A name the template assigns itself ({% set %}, a loop variable, a macro and its
    # parameters) is its own, wherever it is assigned: a name read outside the scope that
    # assigns it is left to fail at send, by name. Walking the tree, rather than running
    # Jinja's code generator as `jinja2.meta` does, keeps the check cheap.
    assigned = {name.name for name in tree.find_all(nodes.Name) if name.ctx in ("store", "param")}
    assigned.update(macro.name for macro in tree.find_all(nodes.Macro))
    known = assigned | set(variables) | functions | _IMPLICIT
    reported: set[str] = set()
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in known and name.name not in reported:
            reported.add(name.name)
            yield Problem(name.lineno, f"unknown variable {name.name}")
    for root, keys in _reads(tree):
        if root.name in assigned or root.name not in variables:
            continue
        node = variables[root.name]
        for depth, key in enumerate(keys):
            if node is None or ANY_KEY in node:
                break
            if key not in node:
                path = _display(root.name, keys[: depth + 1])
                yield Problem(root.lineno, f"unknown variable {path}")
                break
            node = node[key]


def _reads(tree: nodes.Template) -> Iterator[tuple[nodes.Name, list[Any]]]:
    """Each chain of attribute and item reads that starts at a name, with its constant keys
    (up to the first key computed at render time), and each bare name."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        keys: list[Any] = []
        current: nodes.Node = node
        while isinstance(current, (nodes.Getattr, nodes.Getitem)):
            key = _key(current)
            keys = [] if key is None else [key, *keys]  # a computed key ends the known part
            current = current.node
        if isinstance(current, nodes.Name) and current.ctx == "load":
            yield current, keys


def _key(node: nodes.Getattr | nodes.Getitem) -> Any:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, (str, int)):
        return node.arg.value
    return None


def _display(root: str, keys: Iterable[Any]) -> str:
    path = root
    for key in keys:
        path += f".{key}" if isinstance(key, str) and key.isidentifier() else f"[{key!r}]"
    return path
