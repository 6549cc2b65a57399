"""How a command ends: its exit code, and quietly when the reader of its output went away.

0 success, 1 operation refused or failed, 2 usage or config error, 141 when the reader of the
output went away (a pipe into `head`).
"""

from __future__ import annotations

import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_SIGPIPE = 128 + 13  # what a shell reports for a command killed by SIGPIPE (as git does)


def silence_stdout() -> None:
    """Python's own advice once a reader is gone: point stdout at /dev/null so later writes, and
    the flush at exit, cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
