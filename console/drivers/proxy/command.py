"""Running the operator's proxy commands (`nginx -t`, a reload): argv only, never a shell."""

from __future__ import annotations

import subprocess

from console.core.contracts.proxy import ProxyError
from console.core.timeouts import PROXY_COMMAND_SECONDS


def run_command(argv: list[str], what: str, timeout: float = PROXY_COMMAND_SECONDS) -> None:
    """Run an operator-configured command; ProxyError with its last line."""
    if not argv:
        raise ProxyError(f"The {what} command is empty: set it in [proxy] of the configuration.")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ProxyError(
            f"The {what} command '{argv[0]}' was not found: fix proxy.{what}_command."
        ) from None
    except subprocess.TimeoutExpired:
        raise ProxyError(f"The {what} command did not finish within {timeout:.0f} s.") from None
    except OSError as exc:
        raise ProxyError(f"The {what} command could not run ({exc.strerror}).") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        # nginx -t ends with "test failed"; the line saying why is its [emerg] one.
        emerg = [line for line in lines if "[emerg]" in line]
        last = (emerg or lines)[-1].strip() if lines else f"exit status {done.returncode}"
        raise ProxyError(f"The {what} command failed: {last}")
