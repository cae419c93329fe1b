"""Templates checked and rendered in processes of their own, never on the event loop.

`TemplateSandbox` keeps a few render processes (`template_process.py`), started when first
needed, and hands each request to an idle one from a thread, so the event loop only waits.
A render process caps its own memory and interrupts a render at the time limit; when it
does not answer even so (one long call in C), this side kills it two seconds (`GRACE`) after
the limit, fails the render it was on, and carries on with a fresh process. Those seconds are
the process's own processor time while it is runnable, so a machine busy elsewhere does not
turn a slow render into a runaway. A render that
breaks a limit costs the batch at most that limit; the other deliveries are rendered as
usual (the same template too: what it costs may depend on the recipient).

Built once per process by the app factory (`build_runtime`) and closed in its lifespan;
processes that outlive it (a test's app is never closed) exit when their pipe closes.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

from tidings.core.delivery.render import MAX_TEMPLATE, Content, RenderError
from tidings.core.delivery.template_limits import DEFAULT_LIMITS, TemplateLimits
from tidings.core.delivery.template_process import CHECK_SECONDS
from tidings.core.errors import UserInputError

# Seconds past the render time limit before a silent process is killed: of its processor
# time while it is runnable (a starved process is not a runaway), of wall clock otherwise.
GRACE = 2.0
# A runnable process that has not used its allowance is still given up after this many times
# the allowance in wall-clock seconds.
STARVED_FACTOR = 10
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Wall-clock allowances: a process to start, one template (up to 64 KiB) to compile.
START_SECONDS = 30.0
COMPILE_SECONDS = 10.0

RenderResult = Content | RenderError
_Item = tuple[int, int, dict[str, Any]]  # (position in the batch, template, variables)


class _Process:
    """One render process and its two pipes."""

    def __init__(self, limits: TemplateLimits) -> None:
        from_parent, to_child = os.pipe()
        from_child, to_parent = os.pipe()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
        self.popen = subprocess.Popen(  # noqa: S603 (our interpreter, our module)
            [
                sys.executable,
                "-m",
                "tidings.core.delivery.template_process",
                str(from_parent),
                str(to_parent),
                json.dumps(asdict(limits)),
            ],
            pass_fds=(from_parent, to_parent),
            env=environment,
            stdin=subprocess.DEVNULL,
        )
        os.close(from_parent)
        os.close(to_parent)
        self.requests = Connection(to_child, readable=False)
        self.answers = Connection(from_child, writable=False)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None and not self.requests.closed

    def receive(self, seconds: float) -> tuple[Any, ...] | None:
        """The next answer, or None when none came in time or the process is gone."""
        try:
            if self.answers.poll(seconds):
                return self.answers.recv()
        except (EOFError, OSError):
            pass
        return None

    def await_answer(self, allowance: float) -> tuple[Any, ...] | None:
        """The next answer, or None once the process has had `allowance` seconds for it.

        Seconds of its own processor time while it is runnable, so a render process that a
        busy machine starves of the processor is not taken for a runaway; wall-clock seconds
        otherwise (stopped, or no /proc to read), and never more than `STARVED_FACTOR` times
        the allowance in all."""
        started, cpu_start = time.monotonic(), self.cpu()
        answer = self.receive(allowance)
        while answer is None and self.alive and cpu_start is not None:
            elapsed = time.monotonic() - started
            state, cpu = self.state(), self.cpu()
            if state != "R" or cpu is None or elapsed >= allowance * STARVED_FACTOR:
                return None
            used = cpu - cpu_start
            if used >= allowance:
                return None
            answer = self.receive(max(allowance - used, 0.05))
        return answer

    def _stat(self) -> list[str] | None:
        try:
            with open(f"/proc/{self.popen.pid}/stat", encoding="ascii") as stat:
                return stat.read().rpartition(")")[2].split()
        except OSError:
            return None

    def state(self) -> str | None:
        """The kernel's state letter for the process (R running or runnable, T stopped...)."""
        fields = self._stat()
        return fields[0] if fields else None

    def cpu(self) -> float | None:
        """Processor seconds the process has used (user and system), or None without /proc."""
        fields = self._stat()
        if not fields:
            return None
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def close(self) -> None:
        """Close its input: it finishes what it is doing and exits."""
        self.requests.close()
        self.answers.close()

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait()
        self.close()


def _close_all(processes: set[_Process]) -> None:
    for process in list(processes):
        process.close()
    processes.clear()


class TemplateSandbox:
    """Checks templates when they are saved and renders them when they are sent, under
    `limits`, in up to `processes` render processes at once."""

    def __init__(self, limits: TemplateLimits = DEFAULT_LIMITS, processes: int = 2) -> None:
        self.limits = limits
        self._idle: queue.SimpleQueue[_Process] = queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(processes)
        self._processes: set[_Process] = set()
        weakref.finalize(self, _close_all, self._processes)

    async def check(self, source: str, field: str, *, html: bool = False) -> str:
        """`render.check_template` in a render process: what would fail every send, and a
        limit that a trial render breaks, refused as `INVALID_TEMPLATE` on `field`."""
        if len(source) > MAX_TEMPLATE:  # no need to ship it anywhere to say so
            raise UserInputError("TOO_LONG", f"At most {MAX_TEMPLATE} characters.", field)
        answer = await asyncio.to_thread(self._check, source, field, html)
        if answer[0] == "invalid":
            raise UserInputError(answer[1], answer[2], answer[3])
        return source

    async def render_many(
        self, jobs: Sequence[tuple[Content, Mapping[str, Any]]]
    ) -> list[RenderResult]:
        """Each template filled in with its variables, in order: the content, or the
        `RenderError` that says why it could not be."""
        if not jobs:
            return []
        return await asyncio.to_thread(self._render_many, jobs)

    def close(self) -> None:
        """Stop the render processes and reap them; later requests start new ones."""
        processes = list(self._processes)
        _close_all(self._processes)
        while not self._idle.empty():
            self._idle.get_nowait()
        for process in processes:
            try:
                process.popen.wait(timeout=1)  # their input closed: they exit at once
            except subprocess.TimeoutExpired:
                process.kill()

    # In a thread --------------------------------------------------------------------------

    @contextmanager
    def _process(self) -> Iterator[_Process]:
        """An idle render process (started if there is none), returned after use unless it
        died or had to be killed."""
        with self._slots:
            process = None
            while process is None:
                try:
                    process = self._idle.get_nowait()
                except queue.Empty:
                    process = self._start()
                if not process.alive:
                    self._processes.discard(process)
                    process = None
            try:
                yield process
            except BaseException:
                self._discard(process)
                raise
            if process.alive and process in self._processes:
                self._idle.put(process)
            else:
                self._discard(process)

    def _start(self) -> _Process:
        process = _Process(self.limits)
        self._processes.add(process)
        if process.receive(START_SECONDS) != ("ready",):
            self._discard(process)
            raise RuntimeError("a template render process did not start")
        return process

    def _discard(self, process: _Process) -> None:
        self._processes.discard(process)
        if process.popen.poll() is None:
            process.kill()
        else:
            process.close()
            process.popen.wait()

    def _check(self, source: str, field: str, html: bool) -> tuple[Any, ...]:
        for attempt in range(2):
            with self._process() as process:
                try:
                    process.requests.send(("check", source, field, html))
                except OSError:  # it died while idle: take another, once
                    self._discard(process)
                    if attempt:
                        raise
                    continue
                answer = process.receive(CHECK_SECONDS * 2)
                if answer is None:
                    self._discard(process)
                    message = f"{field}: the template took over {CHECK_SECONDS} s to check"
                    return ("invalid", "INVALID_TEMPLATE", message, field)
                return answer
        raise AssertionError("unreachable")

    def _render_many(self, jobs: Sequence[tuple[Content, Mapping[str, Any]]]) -> list:
        templates: dict[Content, int] = {}
        pending: list[_Item] = []
        for position, (template, variables) in enumerate(jobs):
            which = templates.setdefault(template, len(templates))
            pending.append((position, which, dict(variables)))
        sources = [(t.title, t.body, t.html) for t in templates]
        results: list[RenderResult | None] = [None] * len(jobs)
        stalled = 0  # rounds in a row that rendered nothing (the process was gone already)
        while pending:
            with self._process() as process:
                left = self._exchange(process, sources, pending, results)
            stalled = stalled + 1 if len(left) == len(pending) else 0
            if stalled == 3:
                raise RuntimeError("template render processes keep dying")
            pending = left
        return results

    def _exchange(
        self,
        process: _Process,
        sources: list[tuple[str, str, str | None]],
        pending: list[_Item],
        results: list[RenderResult | None],
    ) -> list[_Item]:
        """Send what is pending and collect the answers; what is left when the process has
        to be given up (killed at the time limit, or gone)."""
        try:
            process.requests.send(("render", sources, pending))
        except OSError:  # it died while idle: the caller takes another
            self._discard(process)
            return pending
        render_allowance = self.limits.render_timeout + GRACE
        allowance = render_allowance
        for done, (position, _, _) in enumerate(pending):
            while True:
                answer = process.await_answer(allowance)
                if answer is None or answer[0] not in ("compiling", "compiled"):
                    break
                allowance = COMPILE_SECONDS if answer[0] == "compiling" else render_allowance
            if answer is None:  # killed at the limit, or the process died on it
                self._discard(process)
                results[position] = RenderError(
                    "template", None, str(self.limits.out_of_time()), "time"
                )
                return pending[done + 1 :]
            _, result = answer
            results[position] = (
                Content(*result[1:]) if result[0] == "ok" else RenderError(*result[1:])
            )
            if result[0] == "error" and result[4] == "memory":  # it exits to start clean
                self._discard(process)
                return pending[done + 1 :]
        return []
