"""Count the SQL statements tortoise executes, from its own debug log.

Every execute method of tortoise's SQLite and asyncpg clients (`backends/*/client.py`) logs
its statement exactly once on "tortoise.db_client" at DEBUG, as `"%s: %s" % (query, values)`,
or as the bare query for `execute_script`; the same logger also reports connections and pools
being opened and closed, which are not statements. Transaction control (BEGIN, COMMIT) is not
logged, so only statements a caller asked for are counted.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

LOGGER = "tortoise.db_client"
NOT_STATEMENTS = ("Created connection", "Closed connection")


class StatementLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = str(record.msg)
        if message.startswith(NOT_STATEMENTS):
            return
        if message == "%s: %s" and isinstance(record.args, tuple) and record.args:
            self.statements.append(str(record.args[0]))
        else:
            self.statements.append(message)

    def tables(self) -> list[str]:
        """The table each statement reads or writes, in order: a readable summary."""
        names = []
        for statement in self.statements:
            found = re.search(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', statement, re.IGNORECASE)
            names.append(found.group(1) if found else statement[:40])
        return names


@contextlib.contextmanager
def statement_log() -> Iterator[StatementLog]:
    """Collect the statements executed inside the block."""
    logger = logging.getLogger(LOGGER)
    handler = StatementLog()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
