"""Start the agent in the background when none runs (what `deploy` does for the operator).

The child gets its own session (`start_new_session`), so the SSH session's hang-up never reaches
it, and writes to `agent.log` in the state dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from console.core.installation import Installation


def ensure_agent(inst: Installation, wait_seconds: float = 10.0) -> tuple[bool, int | None]:
    """Return (started_now, pid). Raises RuntimeError with a sentence if it does not come up."""
    info = inst.agent_lease.info()
    if info.running:
        return False, info.pid
    # One agent watches every service of a directory: started on the directory, it watches
    # this service too (and its lease says so).
    log_path = inst.state_dir / "agent.log"
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "console", "--config", inst.config.host_config_path, "agent"],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if inst.agent_lease.info().running:
            return True, process.pid
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(
        f"The agent did not start (see {log_path}). "
        "Run `bluegreen agent` in the foreground to see why."
    )
