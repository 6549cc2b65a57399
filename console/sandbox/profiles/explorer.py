"""The `explorer` profile (the default): the re-indexing explorer backend's world — PostgreSQL with
a CometBFT event sink that grows a block a second, and the stand-in that re-indexes it into each
colour's own database. Progress comes from SQL on both sides."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from console.core.fsutil import atomic_write
from console.sandbox.images import STANDIN_REPOSITORY
from console.sandbox.procs import spawn
from console.sandbox.profiles.base import (
    Context,
    Probe,
    catchup_readiness,
    single_file,
    slots,
)


class ExplorerProfile:
    name = "explorer"
    service = "explorer"
    repository = STANDIN_REPOSITORY
    summary = "re-indexing explorer: PostgreSQL chain, SQL head and height, GraphQL"
    v1_env: Mapping[str, str] = MappingProxyType({"INDEX_SPEED": "100000"})
    probe = Probe("POST", "/graphql", {"query": "{ __typename }"})
    secrets = True
    extra_ports: tuple[str, ...] = ("postgres",)

    def start(self, ctx: Context) -> dict[str, int]:
        from console.sandbox import chain
        from console.sandbox.postgres_proc import PostgresServer

        ports, gateway = ctx.ports, ctx.gateway
        ctx.say(
            f"Starting PostgreSQL on 127.0.0.1:{ports.postgres} and {gateway}:{ports.postgres}…"
        )
        secrets_path = ctx.directory / "secrets.env"
        password = sandbox_password(secrets_path)
        pg = PostgresServer(
            ctx.directory / "pg", ports.postgres, password, listen=("127.0.0.1", gateway)
        )
        pg.start()
        pg.wait_ready()
        # Containers reach the cluster through the bridge gateway; this host through loopback.
        host_urls = {
            name: pg.create_database(db)
            for name, db in (
                ("SOURCE", "chain"),
                ("BLUE", "explorer_blue"),
                ("GREEN", "explorer_green"),
            )
        }
        lines = [
            f"{name}_HOST_DB_URL={url}\n{name}_DB_URL={url.replace('127.0.0.1', gateway)}\n"
            for name, url in host_urls.items()
        ]
        atomic_write(secrets_path, "".join(lines) + f"SANDBOX_PG_PASSWORD={password}\n")

        ctx.say(
            f"Seeding {ctx.history:,} blocks of chain history and starting the chain simulator…"
        )
        chain.create_schema(host_urls["SOURCE"])
        if chain.head(host_urls["SOURCE"]) < ctx.history - 2:
            chain.seed_history(host_urls["SOURCE"], ctx.history)
        pid = spawn(
            [
                sys.executable,
                "-m",
                "console.sandbox.chain",
                "--db-url-env",
                "CHAIN_DB_URL",
                "--history",
                "0",
                "--interval",
                "1.0",
            ],
            ctx.directory / "chain.log",
            env={**os.environ, "CHAIN_DB_URL": host_urls["SOURCE"]},
        )
        return {"chain": pid}

    def stop(self, directory: Path, ports: dict[str, int]) -> None:
        from console.sandbox.postgres_proc import PostgresServer

        PostgresServer(directory / "pg", ports["postgres"], "").stop()

    def render_config(self, ctx: Context) -> str:
        return single_file(self, ctx)

    def render_service(self, ctx: Context) -> str:
        return (
            f'''
[image]
repository = "{self.repository}"
command = ["-s", "{{source_db_url}}", "-d", "{{dest_db_url}}",
           "--genesis-json", "/usr/local/share/explorer/genesis.json"]
env = {{ PORT = "{{port}}", INDEX_SPEED = "{ctx.speed}" }}
container_port = 8080
restart_policy = "unless-stopped"   # as in production: slots come back with the engine
reset_database = true        # the stand-in re-indexes from scratch, like a release of the explorer
stop_timeout_seconds = 5
start_timeout_seconds = 60

[source]
db_url = "${{SOURCE_DB_URL}}"
host_db_url = "${{SOURCE_HOST_DB_URL}}"

[head]
kind = "sql"
query = "SELECT MAX(height) - 1 FROM blocks"

[candidate]
query = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"
'''
            + slots(ctx, self.service, with_db=True, extra=DISK_BUDGET)
            + catchup_readiness(
                "catchup completed",
                'smoke_method = "POST"\nsmoke_path = "/graphql"\n'
                'smoke_body = \'{"query": "{ __typename }"}\'',
            )
            + PARITY
        )


# The sandbox's databases share one local PostgreSQL: a budget (as for a remote database) makes
# the demo show the disk line and the free_disk_after_catchup gate condition.
DISK_BUDGET = "disk_budget_bytes = 268435456  # 256 MiB\n"


def sandbox_password(path: Path) -> str:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith("SANDBOX_PG_PASSWORD="):
                return line.split("=", 1)[1]
    return "sbx-" + secrets.token_urlsafe(18)


# Appended to the [readiness] table above, then the checks: the same data in both colours?
# `deploy v2 --env WRONG_HASH_EVERY=10` builds a release with a data bug that only parity sees.
PARITY = """parity_required = false      # true: every [[parity]] check must match to switch
parity_margin = 5            # compare at min(blue, green height) - 5
parity_interval_seconds = 5

[[parity]]
kind = "sql"
name = "block hash"
query = "SELECT root FROM explorer_block_details WHERE height = {height}"

[[parity]]
kind = "sql"
name = "last 1000 hashes"
query = '''SELECT count(*) || ':' || md5(string_agg(root, ',' ORDER BY height))
           FROM explorer_block_details WHERE height > {height} - 1000 AND height <= {height}'''
"""
