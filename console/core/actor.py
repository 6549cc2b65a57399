"""Who is acting: the human behind sudo, where they connected from, and this process."""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping

from console.core.model import Actor

AGENT_ACTOR = Actor("agent")  # what the agent's own events and operations are done as


def current_actor(environ: Mapping[str, str] | None = None, uid: int | None = None) -> Actor:
    """The operator of this process, for the lock holder and the audit log.

    The name is the real uid's, never `$USER`, which anyone can set. `SUDO_USER` names the login
    behind `sudo bluegreen switch`, and is believed only when running as root — which is how sudo
    runs it; an unprivileged user setting it proves nothing. The SSH client address comes from
    `SSH_CLIENT` ("ip port lport") or, failing that, `SSH_CONNECTION` ("ip port lip lport").
    """
    env = os.environ if environ is None else environ
    real_uid = os.getuid() if uid is None else uid
    sudo_user = env.get("SUDO_USER") if real_uid == 0 else None
    user = sudo_user or _name_of(real_uid)
    return Actor(user=user, ssh_client=_ssh_client(env), pid=os.getpid())


def _ssh_client(env: Mapping[str, str]) -> str | None:
    for key in ("SSH_CLIENT", "SSH_CONNECTION"):
        fields = env.get(key, "").split()
        if fields:
            return fields[0]
    return None


def _name_of(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        # No passwd entry (e.g. an arbitrary uid in a container): the uid still identifies someone.
        return f"uid{uid}"
