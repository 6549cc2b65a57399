"""Sandbox profiles: the shapes of service the sandbox can stand up. One file and one entry here
per profile; `sandbox up --profile NAME` picks it, `explorer` by default."""

from __future__ import annotations

from console.sandbox.procs import SandboxError
from console.sandbox.profiles.base import Profile
from console.sandbox.profiles.evm import EvmProfile
from console.sandbox.profiles.explorer import ExplorerProfile
from console.sandbox.profiles.web import WebProfile

DEFAULT_PROFILE = "explorer"

PROFILES: dict[str, Profile] = {
    "explorer": ExplorerProfile(),
    "web": WebProfile(),
    "evm": EvmProfile(),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise SandboxError(f"There is no sandbox profile '{name}': use one of {known}.") from None
