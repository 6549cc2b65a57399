"""The console's keyboard flow (deploy, switch, roll back; read-only cannot act) on the other
sandbox profiles: a plain web service without catch-up, and an EVM indexer read over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down

# The same two tests as on the explorer; collected here, they use this module's `sandbox`.
from tests.tui.test_e2e_sandbox import (
    test_deploy_switch_rollback_from_the_keyboard,
    test_read_only_console_cannot_act,
)

__all__ = ["test_deploy_switch_rollback_from_the_keyboard", "test_read_only_console_cannot_act"]

pytestmark = [pytest.mark.integration, pytest.mark.tui, pytest.mark.timeout(600)]

PORT_BASES = {"web": ports.E2E_PROFILE_WEB.start, "evm": ports.E2E_PROFILE_EVM.start}


@pytest.fixture(scope="module", params=sorted(PORT_BASES))
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    profile = request.param
    world = bring_up(profile=profile, port_base=PORT_BASES[profile])
    try:
        yield world
    finally:
        tear_down(world.dir)
