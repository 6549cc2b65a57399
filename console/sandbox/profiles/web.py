"""The `web` profile: a plain HTTP service with nothing to re-index and no database — readiness is
its ready endpoint answering 2xx, held for `min_ready_seconds`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from console.sandbox.images import WEBAPP_REPOSITORY
from console.sandbox.profiles.base import Context, Probe, single_file, slots

READY_AFTER_SECONDS = 3  # how long a fresh container answers 503 on its ready endpoint
MIN_READY_SECONDS = 5  # how long the colour must keep passing before it counts as ready


class WebProfile:
    name = "web"
    service = "webapp"
    repository = WEBAPP_REPOSITORY
    summary = "plain web service: ready endpoint + min_ready_seconds, no database"
    v1_env: Mapping[str, str] = MappingProxyType({"READY_AFTER_SECONDS": "0"})
    probe = Probe("GET", "/")
    secrets = False
    extra_ports: tuple[str, ...] = ()

    def start(self, ctx: Context) -> dict[str, int]:
        return {}  # nothing runs on the host but nginx

    def stop(self, directory: Path, ports: dict[str, int]) -> None:
        return None

    def render_config(self, ctx: Context) -> str:
        return single_file(self, ctx)

    def render_service(self, ctx: Context) -> str:
        return (
            f'''
[image]
repository = "{self.repository}"
env = {{ PORT = "{{port}}", READY_AFTER_SECONDS = "{READY_AFTER_SECONDS}" }}
container_port = 8080
restart_policy = "unless-stopped"
stop_timeout_seconds = 5
start_timeout_seconds = 60

[candidate]
kind = "none"                # nothing to re-index: no head, no height, no database
'''
            + slots(ctx, self.service, with_db=False)
            + f"""
[readiness]
health_path = "/api/health/ready"   # 503 until the app has warmed up, then 200
health_expect = "ready"
min_ready_seconds = {MIN_READY_SECONDS}
log_pattern = ""
smoke_method = "GET"
smoke_path = "/"
sample_interval_seconds = 1.0
"""
        )
