"""Start a server with its open-file limit raised: ten thousand websockets need ten thousand
descriptors, and a process can only raise its own soft limit (up to the hard one).

`python -m bench.live_launch MODULE [ARGS...]` raises RLIMIT_NOFILE, then runs MODULE as
`python -m MODULE ARGS...` would, in this same process (so its PID is the server's).
"""

from __future__ import annotations

import resource
import runpy
import sys


def raise_open_files() -> int:
    """Soft limit up to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m bench.live_launch MODULE [ARGS...]")
    raise_open_files()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
