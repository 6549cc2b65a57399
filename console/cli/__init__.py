"""`bluegreen` command line: `main`, the entry point. The parser is in `parser`, the handlers in
`commands` (and `canary`, `parity`, `sandbox_cmd`, `web`), what they share in `session`.

Exit codes (`exits`): 0 success, 1 operation refused or failed, 2 usage or config error, 141 when
the reader of the output went away (a pipe into `head`).

Configuration is found in this order (first wins): --config PATH, $BLUEGREEN_CONFIG,
./bluegreen.toml, /etc/bluegreen/config.toml, then the local sandbox's config if one is up.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from console.cli.exits import EXIT_FAILED, EXIT_SIGPIPE, EXIT_USAGE, silence_stdout
from console.cli.parser import build_parser, parse_args
from console.core.config.coerce import ConfigError

# The package's face: the entry point, and what tests and scripts parse and compare with.
__all__ = ["EXIT_FAILED", "EXIT_SIGPIPE", "EXIT_USAGE", "build_parser", "main", "parse_args"]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from console.cli import commands

    handler: Callable[[argparse.Namespace], int] = commands.dispatch(args)
    try:
        code = handler(args)
        sys.stdout.flush()  # inside the try: a reader gone away is noticed here, not at exit
        return code
    except ConfigError as exc:
        print(f"bluegreen: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bluegreen: interrupted.", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return _reader_went_away()


def _reader_went_away() -> int:
    """The reader of our output went away (`bluegreen status | head -1`): end quietly, like git."""
    silence_stdout()
    return EXIT_SIGPIPE
