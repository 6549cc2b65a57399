"""What docs/RECIPES.md's recipes run against: a real PostgreSQL (blue, green and a CometBFT-style
source database with chain history), a JSON-RPC chain simulator that also answers CometBFT's
`/status`, the recipe stand-in image (console/sandbox/recipe) and the explorer stand-in; and a
fresh installation per run — its own nginx written from `proxy snippet`, `proxy install`, an empty
state directory — as a new user sets one up (the pattern of test_first_install.py).

Everything a container reaches is on the Docker bridge's gateway address (PostgreSQL and the chain
listen on loopback and there), so one URL serves this host and the containers alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from console.sandbox import chain, images
from console.sandbox.postgres_proc import PostgresServer
from tests.integration.proxy_helpers import operator_nginx_conf

HISTORY = 1500  # blocks on both chains when the world starts; +1 a second after that


@dataclass
class World:
    root: Path
    pg: PostgresServer
    gateway: str
    rpc_url: str  # the JSON-RPC chain (POST) and CometBFT /status (GET), host and containers
    urls: dict[str, str]  # blue, green, source: PostgreSQL URLs (secrets)
    recipe_image: str  # repository of the recipe stand-in
    explorer_image: str
    tag: str
    processes: list[subprocess.Popen[bytes]]

    def secrets(self) -> dict[str, str]:
        """The recipes' ${NAME} references, as an operator's environment would give them."""
        return {
            "BLUE_DB_URL": self.urls["blue"],
            "GREEN_DB_URL": self.urls["green"],
            "SOURCE_DB_URL": self.urls["source"],
            "RPC_KEY": "recipe-test-key",
            "RPC_URL": self.rpc_url,
            "MAINNET_RPC_URL": self.rpc_url,
        }


@contextlib.contextmanager
def world(root_prefix: str, pg_port: int, rpc_port: int, tag: str) -> Iterator[World]:
    """Build both images as `tag` (our own tag: another sandbox's `down` removes v1/v2), start
    PostgreSQL and both chains; undo it all afterwards."""
    root = Path(tempfile.mkdtemp(prefix=root_prefix, dir="/var/tmp"))
    os.chmod(root, 0o755)  # the postgres user traverses it to its cluster
    recipe_ref = images.build_image(tag, repository=images.RECIPE_INDEXER_REPOSITORY)
    explorer_ref = images.build_standin(tag)
    gateway = images.docker_gateway_ip("bridge")
    pg = PostgresServer(root / "pg", pg_port, "rw-" + os.urandom(9).hex(), ("127.0.0.1", gateway))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        pg.init()
        # One URL for this host and the containers, as a recipe has (no host_db_url): this
        # host's own connections to the bridge address come from its other interface.
        with (pg.data_dir / "pg_hba.conf").open("a") as hba:
            hba.write("host all all samenet scram-sha-256\n")
        pg.start()
        pg.wait_ready()
        urls = {
            name: pg.create_database(name).replace("127.0.0.1", gateway)
            for name in ("blue", "green", "source")
        }
        chain.create_schema(urls["source"])
        chain.seed_history(urls["source"], HISTORY)
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "console.sandbox.chain", "--db-url-env", "CHAIN_DB_URL",
                 "--history", "0", "--interval", "1.0"],
                env={**os.environ, "CHAIN_DB_URL": urls["source"]},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "console.sandbox.rpc_chain", "--port", str(rpc_port),
                 "--listen", "127.0.0.1", "--listen", gateway, "--history", str(HISTORY),
                 "--interval", "1.0"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        rpc_url = f"http://{gateway}:{rpc_port}"
        wait_for(lambda: httpx.get(f"{rpc_url}/status", timeout=1).status_code == 200)
        yield World(
            root,
            pg,
            gateway,
            rpc_url,
            urls,
            recipe_ref.split(":")[0],
            explorer_ref.split(":")[0],
            tag,
            processes,
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
        pg.destroy()
        subprocess.run(
            ["docker", "rmi", f"{images.RECIPE_INDEXER_REPOSITORY}:{tag}",
             f"{images.STANDIN_REPOSITORY}:{tag}"],
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def wait_for(ready: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if ready():  # type: ignore[operator]
                return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def recipe_blocks(path: Path) -> list[str]:
    return re.findall(r"^```toml\n(.*?)^```", path.read_text(), flags=re.MULTILINE | re.DOTALL)


class Install:
    """One fresh installation of a recipe: its bluegreen.toml (the recipe, with this world's
    addresses, images, ports and directories), its own nginx, an empty state directory."""

    def __init__(self, world: World, recipe: str, name: str, ports: tuple[int, int, int]) -> None:
        self.world = world
        self.name = name
        self.proxy_port, self.blue_port, self.green_port = ports
        self.dir = Path(tempfile.mkdtemp(prefix=f"bg-{name}-"))  # short: a socket lives here
        self.nginx_dir = self.dir / "nginx"
        (self.nginx_dir / "logs").mkdir(parents=True)
        self.nginx_conf = self.nginx_dir / "nginx.conf"
        self.config = self.dir / "bluegreen.toml"
        self.nginx: subprocess.Popen[bytes] | None = None
        self.config.write_text(self.runnable(recipe), encoding="utf-8")

    @property
    def containers(self) -> dict[str, str]:
        return {color: f"bgtest-{self.name}-{color}" for color in ("blue", "green")}

    def runnable(self, recipe: str) -> str:
        """The recipe as written, but for what differs on this machine: where the chain, the
        databases and the stand-in images are, which ports and directories this test owns, and
        holds of 2 s instead of 10-30 (the test waits for each)."""
        world = self.world
        text = re.sub(
            r'^state_dir = ".*"$', f'state_dir = "{self.dir / "state"}"', recipe, flags=re.M
        )
        explorer = 'repository = "registry.example.com/explorer"' in text
        image = world.explorer_image if explorer else world.recipe_image
        text = re.sub(r'^repository = ".*"$', f'repository = "{image}"', text, flags=re.M)
        text = text.replace('"/genesis.json"', '"/usr/local/share/explorer/genesis.json"')
        for remote in ("https://mainnet.example/v3", "http://127.0.0.1:26657",
                       "http://node.internal:26657", "http://eth.internal:8545"):  # fmt: skip
            text = text.replace(remote, world.rpc_url)
        text = re.sub(
            r'^container = "[^"]*-(blue|green)"$',
            lambda m: f'container = "{self.containers[m.group(1)]}"',
            text,
            flags=re.M,
        )
        ports = iter((self.blue_port, self.green_port))
        text = re.sub(
            r"^host_port = \d+$", lambda _: f"host_port = {next(ports)}", text, flags=re.M
        )
        text = re.sub(r"^(hold_seconds|min_ready_seconds) = \d+", r"\1 = 2", text, flags=re.M)
        # The recipe's own [proxy] (if any) is replaced by this install's nginx.
        text = re.sub(r"^\[proxy\]\n(?:(?!\[).*\n)*", "", text, flags=re.M)
        argv = ", ".join(f'"{a}"' for a in self.nginx_argv())
        return text + (
            f'\n[proxy]\nkind = "nginx"\nmode = "live"\n'
            f'include_dir = "{self.nginx_dir / "bluegreen"}"\n'
            f'proxy_url = "http://127.0.0.1:{self.proxy_port}"\n'
            f'test_command = [{argv}, "-t", "-q"]\nreload_command = [{argv}, "-s", "reload"]\n'
        )

    def nginx_argv(self) -> list[str]:
        return ["nginx", "-p", str(self.nginx_dir), "-c", str(self.nginx_conf)]

    def cli(
        self, *args: str, timeout: float = 240, env: dict[str, str] | None = None
    ) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "console", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.world.secrets(), **(env or {})},
        )
        return done.returncode, done.stdout + done.stderr

    def status(self) -> dict:  # type: ignore[type-arg]
        code, out = self.cli("status", "--json")
        assert code == 0, out
        return json.loads(out)  # type: ignore[no-any-return]

    def install_proxy(self) -> None:
        """`proxy snippet` → an nginx.conf with its lines → `proxy install` → nginx running."""
        code, snippet = self.cli("proxy", "snippet")
        assert code == 0, snippet
        self.nginx_conf.write_text(
            operator_nginx_conf(snippet, self.nginx_dir, self.proxy_port), encoding="utf-8"
        )
        code, out = self.cli("proxy", "install")
        assert code == 0, out
        log = (self.nginx_dir / "logs" / "stderr.log").open("ab")
        with log:
            self.nginx = subprocess.Popen(self.nginx_argv(), stdout=log, stderr=log)
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{self.proxy_port}/", timeout=1) is not None)

    def logs(self, color: str) -> str:
        done = subprocess.run(
            ["docker", "logs", self.containers[color]], capture_output=True, text=True, check=False
        )
        return done.stdout + done.stderr

    def tear_down(self) -> None:
        agent = self.dir / "state" / "agent.json"
        if agent.exists():
            with contextlib.suppress(OSError, ValueError, KeyError):
                os.kill(json.loads(agent.read_text())["pid"], signal.SIGTERM)
            for _ in range(100):
                if not agent.exists():
                    break
                time.sleep(0.1)
        subprocess.run(
            ["docker", "rm", "-f", *self.containers.values()], capture_output=True, check=False
        )
        if self.nginx is not None:
            self.nginx.send_signal(signal.SIGQUIT)
            self.nginx.wait(15)
        shutil.rmtree(self.dir, ignore_errors=True)
