"""The agent under systemd: the unit `bluegreen agent --systemd-unit` prints, and sd_notify.

sd_notify is a datagram on the unix socket named by $NOTIFY_SOCKET (systemd's documented wire
format, sd_notify(3)); a few lines of the standard library, so no libsystemd binding is needed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import sys
from pathlib import Path

from console.core.config.fleet import Fleet
from console.core.config.schema import Config


def notify(state: str) -> bool:
    """Tell systemd `state` (e.g. "READY=1"); False when not run by systemd with Type=notify."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        return False  # systemd gone or the socket unreachable: the agent runs on regardless
    return True


def bluegreen_command() -> list[str]:
    """The absolute command that runs this bluegreen: the `bluegreen` script being run, else
    (`python -m console`) this interpreter with `-m console`."""
    script = Path(sys.argv[0])
    if script.name == "bluegreen" and script.exists():
        return [str(script.resolve())]
    found = shutil.which("bluegreen")
    if found and Path(found).resolve().parent == Path(sys.executable).resolve().parent:
        return [str(Path(found).resolve())]
    return [str(Path(sys.executable).resolve()), "-m", "console"]


def _user_lines() -> list[str]:
    if os.geteuid() == 0:
        return []
    import grp
    import pwd

    lines = [f"User={pwd.getpwuid(os.geteuid()).pw_name}"]
    try:
        grp.getgrnam("docker")
        lines.append("SupplementaryGroups=docker")  # the Docker socket is root:docker 0660
    except KeyError:
        pass
    return lines


def unit_text(config: Config) -> str:
    """A systemd service unit that runs the agent for `config` (its path made absolute)."""
    config_path = Path(config.path or "/etc/bluegreen/config.toml").resolve()
    state_dir = Path(config.state_dir).resolve()
    # What the agent writes: its state dir; what its proxy kind names (nginx: the include dir and
    # its logs); /run (Docker's and the proxy's sockets, nginx's pid). "-" = fine if absent.
    # Everything else is read-only (ProtectSystem=strict).
    writable = [str(state_dir), *config.proxy.agent_writes(), "-/run"]
    return _unit(f"bluegreen agent for {config.service}", config_path, state_dir, writable)


def fleet_unit_text(fleet: Fleet) -> str:
    """One unit for every service of a configuration directory; `systemctl reload` re-reads it."""
    state_dir = Path(fleet.state_dir).resolve()
    writable = [str(state_dir)]
    for config in fleet:
        for path in config.proxy.agent_writes():
            # A service's include dir named after it sits in the shared one: that one is made
            # writable, so a service added later (a file dropped in, a reload) can write too.
            bare = Path(path.lstrip("-"))
            if bare.name == config.service:
                path = "-" + str(bare.parent)
            if path not in writable:
                writable.append(path)
    writable.append("-/run")
    names = ", ".join(fleet.names) or "none yet"
    description = f"bluegreen agent for the services in {Path(fleet.path).resolve()} ({names})"
    return _unit(description, Path(fleet.path).resolve(), state_dir, writable, reload=True)


def _unit(
    description: str, config_path: Path, state_dir: Path, writable: list[str], reload: bool = False
) -> str:
    exec_start = shlex.join([*bluegreen_command(), "--config", str(config_path), "agent"])
    # PrivateTmp also hides /var/tmp: keep it off when the state dir lives there (a sandbox).
    in_tmp = any(state_dir.is_relative_to(p) for p in ("/tmp", "/var/tmp"))
    lines = [
        "[Unit]",
        f"Description={description}",
        "Documentation=https://github.com/bluegreen/bluegreen#readme",
        "After=network-online.target docker.service",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={exec_start}",
        # SIGHUP re-reads the directory: a service file added, removed or changed.
        *(["ExecReload=/bin/kill -HUP $MAINPID"] if reload else []),
        *_user_lines(),
        "Restart=on-failure",
        "RestartSec=5s",
        "TimeoutStopSec=30s",  # SIGTERM: the agent finishes its tick and releases the lease
        "KillMode=mixed",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        *([] if in_tmp else ["PrivateTmp=yes"]),
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectControlGroups=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        f"ReadWritePaths={' '.join(writable)}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)
