"""A real private registry for the tests: Debian's `docker-registry` (distribution 2.8) with
htpasswd basic auth (bcrypt) and TLS from a CA the test makes with openssl, trusted by the
Docker Engine through /etc/docker/certs.d/HOST:PORT/ca.crt (removed afterwards).

It listens on the Docker bridge's gateway address, not on 127.0.0.1: the Engine treats
127.0.0.0/8 as an insecure registry and skips certificate verification there, so a loopback
registry would leave the CA untested.

The image pushed into it is built here from nothing (a fresh machine has none): `/bin/sleep`
and the libraries it links, on `scratch` — a couple of MiB, so every pull downloads it whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "alice"
CERTS_D = Path("/etc/docker/certs.d")
REPOSITORY = "bgtest-registry/app"


@dataclass
class Registry:
    host: str  # "172.17.0.1:27800"
    password: str
    root: Path
    ca: Path
    process: subprocess.Popen[bytes]

    @property
    def repository(self) -> str:
        return f"{self.host}/{REPOSITORY}"

    def docker(self, *argv: str, config_dir: Path, stdin: str | None = None) -> str:
        """`docker --config DIR ...` (never the user's own ~/.docker)."""
        done = subprocess.run(
            ["docker", "--config", str(config_dir), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout

    def login(self, config_dir: Path, password: str | None = None) -> None:
        config_dir.mkdir(parents=True, exist_ok=True)
        self.docker(
            *("login", "--username", USER, "--password-stdin", self.host),
            config_dir=config_dir,
            stdin=password or self.password,
        )


def _openssl(*argv: str, cwd: Path) -> None:
    subprocess.run(["openssl", *argv], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_tls(root: Path, address: str) -> None:
    """A CA, and a server certificate it signs for `address` (an IP SAN)."""
    _openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
        *("-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=bluegreen test CA"),
        cwd=root,
    )
    _openssl(
        *("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key"),
        *("-out", "server.csr", "-subj", f"/CN={address}"),
        cwd=root,
    )
    (root / "san.ext").write_text(f"subjectAltName=IP:{address}\n")
    _openssl(
        *("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key"),
        *("-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"),
        cwd=root,
    )


def _htpasswd(password: str) -> str:
    """A bcrypt htpasswd line (the only kind distribution accepts). Python's `crypt` reaches
    libxcrypt's bcrypt on Debian; `openssl passwd` has no bcrypt. Low cost: a test's logins."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt as libcrypt  # gone in Python 3.13: then the `bcrypt` package
    except ImportError:
        import bcrypt

        salt = bcrypt.gensalt(rounds=4)
        return f"{USER}:{bcrypt.hashpw(password.encode(), salt).decode()}\n"
    hashed = libcrypt.crypt(password, libcrypt.mksalt(libcrypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        raise RuntimeError("this Python's crypt has no bcrypt (libxcrypt); cannot make htpasswd")
    return f"{USER}:{hashed}\n"


def _config_yml(root: Path, listen: str) -> str:
    return f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root / "data"}
http:
  addr: {listen}
  secret: bluegreen-test-only
  tls:
    certificate: {root / "server.crt"}
    key: {root / "server.key"}
auth:
  htpasswd:
    realm: bluegreen-test
    path: {root / "htpasswd"}
"""


def _wait_ready(host: str, ca: Path, process: subprocess.Popen[bytes]) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 30  # a guard against a hang, not a speed requirement
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"https://{host}/v2/", context=context, timeout=2)
            return  # without credentials: 401 below
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"docker-registry did not answer on {host}")


@contextlib.contextmanager
def running_registry(address: str, port: int) -> Iterator[Registry]:
    """The registry on address:port, its CA trusted by the Engine, until the block ends."""
    root = Path(tempfile.mkdtemp(prefix="bg-registry-"))
    host = f"{address}:{port}"
    trusted = CERTS_D / host
    password = "pw-" + os.urandom(12).hex()
    process: subprocess.Popen[bytes] | None = None
    made_certs_d = not CERTS_D.exists()
    try:
        _make_tls(root, address)
        (root / "htpasswd").write_text(_htpasswd(password))
        (root / "config.yml").write_text(_config_yml(root, host))
        with open(root / "registry.log", "wb") as log:
            process = subprocess.Popen(
                ["docker-registry", "serve", str(root / "config.yml")],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        _wait_ready(host, root / "ca.crt", process)
        trusted.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / "ca.crt", trusted / "ca.crt")
        yield Registry(host, password, root, trusted / "ca.crt", process)
    finally:
        shutil.rmtree(trusted, ignore_errors=True)
        if made_certs_d:
            with contextlib.suppress(OSError):
                CERTS_D.rmdir()  # only when empty: another test's CA stays
        if process is not None:
            process.terminate()
            process.wait(10)
        shutil.rmtree(root, ignore_errors=True)


def build_image(ref: str, version: str, workdir: Path) -> None:
    """`/bin/sleep` with the libraries it links, on scratch, labelled with `version`."""
    context = workdir / f"context-{version}"
    rootfs = context / "rootfs"
    files = ["/bin/sleep"]
    ldd = subprocess.run(["ldd", "/bin/sleep"], capture_output=True, text=True, check=True)
    for line in ldd.stdout.splitlines():
        path = next((part for part in line.split() if part.startswith("/")), None)
        if path:
            files.append(path)
    for name in files:
        target = rootfs / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.realpath(name), target)
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY rootfs/ /\n"
        f'LABEL org.opencontainers.image.version="{version}"\n'
        'CMD ["/bin/sleep", "3600"]\n'
    )
    subprocess.run(
        ["docker", "build", "-q", "-t", ref, str(context)],
        check=True,
        capture_output=True,
        timeout=300,
    )
