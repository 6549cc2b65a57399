"""The proxy driver contract: install, switch, read back, check, and the snippet an operator pastes.

Three implementations share it: nginx live (Lua shared dict, no reload), nginx reload (classic
`nginx -t` + reload) and HAProxy (runtime API over the admin socket, no reload). Core only talks to
`ProxyDriver`; `make_proxy` picks the implementation from `[proxy]` in the config.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from console.core import timeouts
from console.core.model import Color

if TYPE_CHECKING:
    from console.core.config import Config

COLOR_HEADER = "X-Bluegreen-Color"  # added by the proxy: which colour served the response


class ProxyError(Exception):
    """A proxy operation failed; str() is one sentence saying what happened and what to do."""


@dataclass(frozen=True, slots=True)
class SwitchResult:
    color: Color
    cutover_ms: float  # just before issuing the change → first response served by `color`
    verified: bool
    detail: str


class ProxyDriver(Protocol):
    name: str

    def install(self, live: Color) -> None:
        """Write the owned files for `live`, validate them, and make the running proxy agree."""

    def switch(self, to: Color) -> SwitchResult:
        """Route to `to`, then probe through the proxy until it answers from `to`."""

    def current(self) -> Color | None:
        """What the running proxy routes to now; None when it cannot be told."""

    def persisted(self) -> Color | None:
        """What the owned file says (what a proxy restart would route to)."""

    def check(self) -> list[str]:
        """Problems found, one sentence each; empty when all is well."""

    def snippet(self) -> str:
        """What the operator must add to their own proxy configuration, with where it goes."""


def make_proxy(config: Config) -> ProxyDriver:
    """The driver for `[proxy] kind`/`mode`."""
    if config.proxy.kind == "haproxy":
        from console.drivers.haproxy import HaproxyDriver

        return HaproxyDriver(config)
    from console.drivers.nginx import NginxDriver

    return NginxDriver(config)


def run_command(
    argv: list[str], what: str, timeout: float = timeouts.PROXY_COMMAND_SECONDS
) -> None:
    """Run an operator-configured command (argv, never a shell); ProxyError with its last line."""
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
        last = lines[-1].strip() if lines else f"exit status {done.returncode}"
        raise ProxyError(f"The {what} command failed: {last}")
