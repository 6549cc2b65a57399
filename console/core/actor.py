"""Who is acting: the human behind sudo, where they connected from, and this process."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping

from console.core.model import Actor


def current_actor(environ: Mapping[str, str] | None = None) -> Actor:
    """The operator of this process, for the lock holder and the audit log.

    `SUDO_USER` wins over `USER` because `sudo bluegreen switch` should be attributed to the login,
    not to root. The SSH client address comes from `SSH_CLIENT` ("ip port lport") or, failing that,
    `SSH_CONNECTION` ("ip port lip lport"); both start with the client IP.
    """
    env = os.environ if environ is None else environ
    user = env.get("SUDO_USER") or env.get("USER") or _login_name()
    return Actor(user=user, ssh_client=_ssh_client(env), pid=os.getpid())


def _ssh_client(env: Mapping[str, str]) -> str | None:
    for key in ("SSH_CLIENT", "SSH_CONNECTION"):
        fields = env.get(key, "").split()
        if fields:
            return fields[0]
    return None


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        # No passwd entry (e.g. an arbitrary uid in a container): the uid still identifies someone.
        return f"uid{os.getuid()}"
