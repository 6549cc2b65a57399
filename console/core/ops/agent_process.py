"""Start the agent in the background when none runs (what `deploy` does for the operator).

The child gets its own session (`start_new_session`), so the SSH session's hang-up never reaches
it, and writes to `agent.log` in the state dir. A service of a configuration directory is watched
by the directory's one agent: started for the whole directory (its log in the host's state dir),
or, when it runs already but not for this service yet, asked to read the directory again (SIGHUP).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from console.core.fsutil import ensure_private_dir
from console.core.installation import Installation
from console.core.lock import AgentLease
from console.core.model import AgentInfo


def ensure_agent(inst: Installation, wait_seconds: float = 10.0) -> tuple[bool, int | None]:
    """Return (started_now, pid). Raises RuntimeError with a sentence if it does not come up."""
    info = _named(inst)
    if info.running:
        return False, info.pid
    log_dir = inst.state_dir
    if inst.config.fleet_path:
        # One agent watches every service of a directory: its lease and its log are the host's
        # (the state dir that holds each service's).
        log_dir = inst.state_dir.parent
        fleet_agent = AgentLease(log_dir).info()
        if fleet_agent.running and fleet_agent.pid:
            return _ask_to_reload(inst, fleet_agent.pid, wait_seconds)
    log_path = ensure_private_dir(log_dir) / "agent.log"
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
        watched = inst.agent_lease.info()
        if watched.running and watched.pid is not None:  # its record written, not just its lock
            return True, watched.pid
        # Two deploys of a directory's services at once each start its agent: the second exits
        # at once (the host lease is held), and the first will watch this service too.
        if process.poll() is not None and not (
            inst.config.fleet_path and AgentLease(log_dir).info().running
        ):
            break
        time.sleep(0.1)
    raise RuntimeError(
        f"The agent did not start (see {log_path}). "
        "Run `bluegreen agent` in the foreground to see why."
    )


def _named(inst: Installation, wait_seconds: float = 1.0) -> AgentInfo:
    """The agent's lease, with its pid: an agent that has just taken the lock writes its record
    a moment later (a caller that gets no pid would report "pid None")."""
    deadline = time.monotonic() + wait_seconds
    info = inst.agent_lease.info()
    while info.running and info.pid is None and time.monotonic() < deadline:
        time.sleep(0.02)
        info = inst.agent_lease.info()
    return info


def _ask_to_reload(inst: Installation, pid: int, wait_seconds: float) -> tuple[bool, int | None]:
    """The directory's agent runs but does not watch this service (its file is new, or it gave
    up): SIGHUP makes it read the directory again."""
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        raise RuntimeError(
            f"The agent (pid {pid}) does not watch {inst.config.service} and cannot be asked to "
            f"reload ({exc.strerror}): run `systemctl reload` on its unit, or `kill -HUP {pid}`."
        ) from None
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if inst.agent_lease.info().running:
            return True, pid
        time.sleep(0.1)
    raise RuntimeError(
        f"The agent (pid {pid}) reloaded but does not watch {inst.config.service}: its log "
        f"({inst.state_dir.parent / 'agent.log'} or the journal) says why."
    )
