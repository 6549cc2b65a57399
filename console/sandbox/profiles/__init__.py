"""Sandbox profiles: the shapes of service the sandbox can stand up. One file and one entry here
per profile; `sandbox up --profile NAME` picks it, `explorer` by default. A profile is one
service or several: `fleet` (profiles/fleet.py) stands the three others up together."""

from __future__ import annotations

from console.sandbox.procs import SandboxError
from console.sandbox.profiles.base import Profile
from console.sandbox.profiles.evm import EvmProfile
from console.sandbox.profiles.explorer import ExplorerProfile
from console.sandbox.profiles.fleet import FLEET_MEMBERS, FLEET_PROFILE
from console.sandbox.profiles.swarm import SwarmProfile
from console.sandbox.profiles.web import WebProfile

DEFAULT_PROFILE = "explorer"

PROFILES: dict[str, Profile] = {
    "explorer": ExplorerProfile(),
    "web": WebProfile(),
    "evm": EvmProfile(),
    "swarm": SwarmProfile(),  # the web service on a three-node Docker Swarm
}
# Every name `sandbox up --profile` takes: the one-service profiles, then the fleet.
PROFILE_NAMES = (*PROFILES, FLEET_PROFILE)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILE_NAMES)
        raise SandboxError(f"There is no sandbox profile '{name}': use one of {known}.") from None


def services_of(name: str) -> tuple[tuple[str, Profile], ...]:
    """The services profile `name` stands up: (service name, its profile), in port order."""
    if name == FLEET_PROFILE:
        return FLEET_MEMBERS
    kind = get_profile(name)
    return ((kind.service, kind),)


def is_fleet(name: str) -> bool:
    """True when the profile's configuration is a directory (host.toml + NAME.toml)."""
    return name == FLEET_PROFILE
