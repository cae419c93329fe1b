"""The process templates are checked and rendered in (`python -m` this module; `sandbox.py`
starts it and talks to it).

It imports Jinja and the render module only, reads no setting and holds no secret (it is
started without the parent's `TIDINGS_*` environment). What it adds to `render.py`'s limits
is what only a process of its own can give:

- memory: its address space is capped (`RLIMIT_AS`), so a template that asks for more gets
  a `MemoryError`, reported as the memory limit, and the process then exits to start clean;
- time in C: a profiling timer (`ITIMER_PROF`, processor time) interrupts a render at the
  time limit wherever it is in Python code; the parent kills the process when even that
  cannot answer (one long call in C).

Requests and answers are pickled tuples over two pipes (`multiprocessing.connection`); the
process says ("ready",) once, when it has started:

    ("check", source, field, html) → ("ok",) | ("invalid", code, message, field)
    ("render", templates, items)   → per item (position, template, variables), in order:
        ("compiling", template) and ("compiled", template) around the first use of each
        template (compiling is not charged to a render), then (position, result), where
        result is ("ok", title, body, html) or ("error", field, line, cause, limit).
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

from tidings.core.delivery.render import (
    Content,
    RenderError,
    check_template,
    compile_template,
    render,
)
from tidings.core.delivery.template_limits import TemplateLimitError, TemplateLimits
from tidings.core.errors import UserInputError

# Processor time a save's check may take (parsing, compiling twice, the trial render).
CHECK_SECONDS = 10


@contextmanager
def _timer(limits: TemplateLimits, seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` of processor time, raising the time limit's error
    from wherever it is (the render reports it as it reports the loop counter's)."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise limits.out_of_time()

    signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


Answer = tuple[Any, ...]


class TemplateProcess:
    """Answers requests until its input closes; `exhausted` once memory ran out (the
    process then exits, and the parent starts a fresh one)."""

    def __init__(self, limits: TemplateLimits) -> None:
        self.limits = limits
        self.exhausted = False

    def check(self, source: str, field: str, html: bool) -> Answer:
        try:
            # Parsing, compiling twice and a trial render: a 64 KiB template takes seconds.
            with _timer(self.limits, CHECK_SECONDS):
                check_template(source, field, html=html, limits=self.limits)
        except UserInputError as error:
            return ("invalid", error.code, error.message, error.field)
        except TemplateLimitError:
            message = f"{field}: the template took over {CHECK_SECONDS} s to check"
            return ("invalid", "INVALID_TEMPLATE", message, field)
        except MemoryError:
            self.exhausted = True
            message = f"{field}: {self.limits.out_of_memory()}"
            return ("invalid", "INVALID_TEMPLATE", message, field)
        return ("ok",)

    def render(
        self,
        templates: Sequence[tuple[str, str, str | None]],
        items: Sequence[tuple[int, int, dict[str, Any]]],
        send: Callable[[Answer], None],
    ) -> None:
        """Render each item, sending each answer as soon as it is ready. Each is rendered,
        even after another with the same template broke a limit: what a template costs may
        depend on the recipient."""
        compiled: set[int] = set()
        for position, which, variables in items:
            if which not in compiled:
                send(("compiling", which))
                compile_template(Content(*templates[which]))
                send(("compiled", which))
                compiled.add(which)
            send((position, self._render_one(Content(*templates[which]), variables)))
            if self.exhausted:
                return

    def _render_one(self, template: Content, variables: dict[str, Any]) -> Answer:
        try:
            with _timer(self.limits, self.limits.render_timeout):
                content = render(template, variables, self.limits)
        except RenderError as error:
            self.exhausted = error.limit == "memory"
            return ("error", error.field, error.line, error.cause, error.limit)
        except TemplateLimitError as error:  # the timer went off between two fields
            return ("error", "template", None, str(error), error.kind)
        except MemoryError:
            self.exhausted = True
            return ("error", "template", None, str(self.limits.out_of_memory()), "memory")
        return ("ok", content.title, content.body, content.html)

    def serve(self, requests: Connection, answers: Connection) -> None:
        answers.send(("ready",))
        while not self.exhausted:
            try:
                request = requests.recv()
            except EOFError:  # the parent closed the pipe, or exited
                return
            if request[0] == "check":
                answers.send(self.check(*request[1:]))
            elif request[0] == "render":
                self.render(request[1], request[2], answers.send)


def main(argv: Sequence[str]) -> int:
    read_fd, write_fd, limits_json = argv
    limits = TemplateLimits(**json.loads(limits_json))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
    requests = Connection(int(read_fd), writable=False)
    answers = Connection(int(write_fd), readable=False)
    try:
        TemplateProcess(limits).serve(requests, answers)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
