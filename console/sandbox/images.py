"""Offline image building for the sandbox: the Debian base image and the stand-in images.

No container registry is reachable from the machines this runs on, so nothing is ever pulled: the
base image is debootstrapped from Debian's package mirror (which is reachable) and imported with
`docker import`; the stand-in is then built `FROM` it with the legacy builder and `pull=False`.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker import DockerClient

BASE_IMAGE = "bluegreen-base:bookworm"
STANDIN_REPOSITORY = "bluegreen/standin"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# The stand-ins' build contexts are package data (they ship in the wheel), read through
# importlib.resources so an installed `bluegreen` finds them as a checkout does.
_PACKAGE_DATA = resources.files("console.sandbox")
INDEXER_DIR = _PACKAGE_DATA / "indexer"
WEBAPP_REPOSITORY = "bluegreen/webapp"
EVM_INDEXER_REPOSITORY = "bluegreen/evm-indexer"
RECIPE_INDEXER_REPOSITORY = "bluegreen/recipe-indexer"  # docs/RECIPES.md's interfaces, one image
# Where each stand-in's Dockerfile lives, by image repository (the sandbox profiles pick one).
IMAGE_SOURCES: dict[str, Traversable] = {
    STANDIN_REPOSITORY: INDEXER_DIR,
    WEBAPP_REPOSITORY: _PACKAGE_DATA / "webapp",
    EVM_INDEXER_REPOSITORY: _PACKAGE_DATA / "evm",
    RECIPE_INDEXER_REPOSITORY: _PACKAGE_DATA / "recipe",
}
DEFAULT_CACHE_DIR = Path("/var/cache/bluegreen")


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ImageBuildError(Exception):
    """An image could not be built; the message says what to do."""


def _client(client_or_runtime: Any = None) -> DockerClient:
    """Accept a DockerClient, anything with a `.client` DockerClient (a runtime driver), or None."""
    if client_or_runtime is None:
        try:
            return docker.from_env()
        except docker.errors.DockerException as exc:
            raise ImageBuildError(
                f"Cannot reach the Docker Engine ({exc}). Start dockerd or set DOCKER_HOST."
            ) from exc
    if isinstance(client_or_runtime, DockerClient):
        return client_or_runtime
    inner = getattr(client_or_runtime, "client", None)
    if isinstance(inner, DockerClient):
        return inner
    raise TypeError(f"expected a DockerClient or a runtime with .client, not {client_or_runtime!r}")


def engine_client(docker_host: str = "") -> DockerClient | None:
    """A client for `docker_host` ("" = None: $DOCKER_HOST, then the local socket)."""
    if not docker_host:
        return None
    try:
        return DockerClient(base_url=docker_host)
    except docker.errors.DockerException as exc:
        raise ImageBuildError(
            f"Cannot reach the engine at {docker_host} ({exc}). Start it or fix --docker-host."
        ) from exc


def standin_ref(version: str, repository: str = STANDIN_REPOSITORY) -> str:
    """The image reference of the stand-in for `version`, e.g. bluegreen/standin:v1."""
    return f"{repository}:{version}"


def image_exists(client: DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def docker_gateway_ip(network: str = "bridge", client: DockerClient | None = None) -> str:
    """The host's address on a docker network: what a container dials to reach a host service.

    The default bridge often reports only its subnet (no Gateway) in `docker network inspect`;
    Docker then gives the gateway the subnet's first host address, so that is the fallback.
    """
    docker_client = _client(client)
    try:
        try:
            attrs = docker_client.networks.get(network).attrs
        except docker.errors.NotFound:
            if network != "bridge":
                raise
            attrs = docker_client.networks.get("podman").attrs  # Podman's default network
    except docker.errors.NotFound as exc:
        raise ImageBuildError(
            f"Docker network '{network}' does not exist. Create it or set [image] network."
        ) from exc
    gateway = gateway_from_attrs(attrs)
    if gateway is None:
        raise ImageBuildError(
            f"Docker network '{network}' has no IPv4 subnet to reach the host by."
        )
    return gateway


def gateway_from_attrs(attrs: dict[str, Any]) -> str | None:
    """The IPv4 gateway in `docker network inspect` output, or the subnet's first host address."""
    for entry in (attrs.get("IPAM") or {}).get("Config") or []:
        gateway = entry.get("Gateway")
        if gateway and ":" not in gateway:
            return str(gateway)
        subnet = entry.get("Subnet")
        if subnet and ":" not in subnet:
            return str(next(ipaddress.ip_network(subnet, strict=False).hosts()))
    return None


@contextlib.contextmanager
def _build_lock(name: str, cache_dir: Path = DEFAULT_CACHE_DIR) -> Iterator[None]:
    """Hold an exclusive flock named `name` while building: two callers at once (two
    `sandbox up`, two test workers) must not build one image side by side — the second would
    debootstrap into the same cache again, or tag an image the first is still importing.

    The lock lives in `cache_dir` (root's), else in the temp dir; it is per host, as builds
    are. A flock ends with its process, so a crashed builder never leaves a stale lock."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(cache_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        fallback = Path(tempfile.gettempdir()) / f"bluegreen-{name}.lock"
        fd = os.open(fallback, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # drops the flock


def ensure_base_image(
    client_or_runtime: Any = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    say: Callable[[str], None] = _to_stderr,
) -> str:
    """Return BASE_IMAGE, building it offline-from-registry first if it is missing.

    debootstrap (root only) installs a minimal bookworm with python3 and python3-psycopg into a
    directory under `cache_dir` (~40 s), which is tarred and imported; both are removed afterwards.
    Callers at once (threads or processes) build it once: the others wait and find it built.
    """
    client = _client(client_or_runtime)
    if image_exists(client, BASE_IMAGE):
        return BASE_IMAGE
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if os.geteuid() != 0 or debootstrap is None:
        raise ImageBuildError(
            f"The base image {BASE_IMAGE} is missing and building it needs root and debootstrap: "
            "run `sudo apt-get install debootstrap`, then retry as root."
        )
    with _build_lock("base-image", cache_dir):
        if image_exists(client, BASE_IMAGE):  # another caller built it while this one waited
            return BASE_IMAGE
        say(f"Building {BASE_IMAGE} (debootstrap, ~40 s)…")
        started = time.monotonic()
        _debootstrap_and_import(client, debootstrap, cache_dir)
        say(f"Built {BASE_IMAGE} in {time.monotonic() - started:.0f} s.")
    return BASE_IMAGE


def _debootstrap_and_import(client: DockerClient, debootstrap: str, cache_dir: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="base-", dir=cache_dir))
    rootfs, archive = work / "rootfs", work / "rootfs.tar"
    try:
        result = subprocess.run(
            [
                debootstrap,
                "--variant=minbase",
                "--include=python3,python3-psycopg",
                "bookworm",
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = " / ".join((result.stderr or result.stdout).strip().splitlines()[-2:])
            raise ImageBuildError(
                f"debootstrap could not build the base image ({tail}). Check that {DEBIAN_MIRROR} "
                "is reachable and retry."
            )
        # Downloaded .debs are half the size and useless in the image.
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."], check=True
        )
        repository, tag = BASE_IMAGE.split(":")
        client.api.import_image_from_file(
            str(archive),
            repository=repository,
            tag=tag,
            changes=[
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                'CMD ["/bin/bash"]',
            ],
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not image_exists(client, BASE_IMAGE):
        raise ImageBuildError(f"Importing {BASE_IMAGE} failed; see `journalctl -u docker`.")


def build_standin(
    tag: str,
    version: str | None = None,
    repository: str = STANDIN_REPOSITORY,
    client: Any = None,
) -> str:
    """Build the explorer stand-in as `repository:tag` with VERSION=`version`; return the ref."""
    return build_image(tag, version, repository, client, source=INDEXER_DIR)


def build_image(
    tag: str,
    version: str | None = None,
    repository: str = STANDIN_REPOSITORY,
    client: Any = None,
    source: Path | Traversable | None = None,
) -> str:
    """Build a stand-in image as `repository:tag` with VERSION=`version`; return the ref.

    `source` is the directory with the Dockerfile (default: the repository's in IMAGE_SOURCES).
    Offline: FROM the local base image, `pull=False`, and the build container has no network.
    """
    directory = source or IMAGE_SOURCES.get(repository)
    if directory is None:
        known = ", ".join(sorted(IMAGE_SOURCES))
        raise ImageBuildError(f"No stand-in source for image {repository}: use one of {known}.")
    docker_client = _client(client)
    base = ensure_base_image(docker_client)
    ref = f"{repository}:{tag}"
    try:
        # One build of a ref at a time: two concurrent builds of one tag race on the tag.
        lock_name = "build-" + ref.replace("/", "_").replace(":", "_")
        # as_file: a real directory, even from a zip.
        with _build_lock(lock_name), resources.as_file(directory) as context:
            docker_client.images.build(
                path=str(context),
                tag=ref,
                pull=False,
                rm=True,
                forcerm=True,
                network_mode="none",
                buildargs={"BASE": base, "VERSION": version or tag},
            )
    except docker.errors.BuildError as exc:
        raise ImageBuildError(
            f"Building {ref} failed: {exc.msg}. Check {directory}/Dockerfile."
        ) from exc
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"Docker refused to build {ref}: {exc.explanation}.") from exc
    return ref
