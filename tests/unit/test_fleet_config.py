"""A configuration directory: host.toml's defaults, one file per service, what is derived from the
name, the clashes named with both services, and a broken file skipped while the others load."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.config.coerce import ConfigError
from console.core.config.fleet import load_fleet

HOST = """
state_dir = "/var/lib/bg-fleet"
[proxy]
include_dir = "/etc/nginx/bg"
proxy_url = "http://127.0.0.1:8080"
[notify]
min_interval_seconds = 7
"""


def _service(container: str, blue: int, green: int, extra: str = "") -> str:
    return f"""
[image]
repository = "{container}"
[slots.blue]
container = "{container}-blue"
host_port = {blue}
[slots.green]
container = "{container}-green"
host_port = {green}
{extra}"""


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_a_directory_is_one_config_per_service_with_the_host_defaults(tmp_path: Path) -> None:
    fleet = load_fleet(
        str(
            _write(
                tmp_path / "etc",
                {
                    "host.toml": HOST,
                    "web.toml": _service("web", 18081, 18082, "[notify]\nevery_blocks = 5\n"),
                    "api-v2.toml": _service("api", 18083, 18084),
                },
            )
        )
    )
    assert fleet.names == ["api-v2", "web"] and fleet.skipped == {} and fleet.directory
    web, api = fleet.services["web"], fleet.services["api-v2"]
    assert web.service == "web" and web.state_dir == "/var/lib/bg-fleet/web"
    assert web.host_config_path == str(tmp_path / "etc")  # the agent starts on the directory
    assert fleet.state_dir == "/var/lib/bg-fleet"
    assert web.proxy.include_dir == "/etc/nginx/bg/web"
    assert (web.proxy.name, api.proxy.name) == ("bluegreen_web", "bluegreen_api_v2")
    assert web.proxy.proxy_url == "http://127.0.0.1:8080"  # the host's default
    assert (web.notify.every_blocks, web.notify.min_interval_seconds) == (5, 7)  # merged by key
    assert api.notify.every_blocks == 1_000_000
    assert web.admin_socket_path != api.admin_socket_path


def test_a_single_file_is_a_fleet_of_one_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "bluegreen.toml"
    path.write_text('service = "solo"\nstate_dir = "/var/lib/solo"\n' + _service("s", 1, 2))
    fleet = load_fleet(str(path))
    assert fleet.names == ["solo"] and not fleet.directory
    config = fleet.service(None)
    assert config.state_dir == "/var/lib/solo" and config.proxy.name == ""


def test_several_services_and_no_name_lists_them(tmp_path: Path) -> None:
    files = {"a.toml": _service("a", 1, 2), "b.toml": _service("b", 3, 4)}
    fleet = load_fleet(str(_write(tmp_path / "etc", files)))
    with pytest.raises(ConfigError, match=r"Several services are configured \(a, b\).*--service"):
        fleet.service(None)
    with pytest.raises(ConfigError, match=r"no service 'c'.*Configured: a, b"):
        fleet.service("c")
    assert fleet.service("b").service == "b"


@pytest.mark.parametrize(
    ("second", "named"),
    [
        (_service("b", 18081, 4), "the host port (blue) 18081 is also service a's"),
        (_service("a", 3, 4), "the container name (blue) a-blue is also service a's"),
        (
            _service("b", 3, 4, '[proxy]\ninclude_dir = "/etc/nginx/bg/a"\n'),
            "the proxy include directory /etc/nginx/bg/a is also service a's",
        ),
        (
            _service("b", 3, 4, '[proxy]\nname = "bluegreen_a"\n'),
            "the proxy name bluegreen_a is also service a's",
        ),
    ],
)
def test_a_clash_skips_the_later_service_naming_both(
    tmp_path: Path, second: str, named: str
) -> None:
    files = {"host.toml": HOST, "a.toml": _service("a", 18081, 18082), "b.toml": second}
    fleet = load_fleet(str(_write(tmp_path / "etc", files)))
    assert fleet.names == ["a"]
    assert named in fleet.skipped["b"] and "b.toml or a.toml" in fleet.skipped["b"]


def test_a_shared_database_is_a_clash_without_its_password(tmp_path: Path) -> None:
    def with_db(text: str, port: int, credentials: str) -> str:
        url = f"postgres://{credentials}@db:5432/explorer"
        return text.replace(f"host_port = {port}\n", f'host_port = {port}\ndb_url = "{url}"\n')

    files = {
        "a.toml": with_db(_service("a", 1, 2), 1, "u:hunter2"),
        "b.toml": with_db(_service("b", 3, 4), 3, "v:other"),
    }
    fleet = load_fleet(str(_write(tmp_path / "etc", files)))
    assert "the database (blue) db:5432/explorer is also service a's" in fleet.skipped["b"]
    assert "hunter2" not in fleet.skipped["b"] and "other" not in fleet.skipped["b"]


def test_a_broken_file_is_skipped_with_its_key_and_the_others_load(tmp_path: Path) -> None:
    files = {
        "good.toml": _service("g", 1, 2),
        "typo.toml": _service("t", 3, 4, "[readiness]\nmax_lagg = 3\n"),
        "syntax.toml": "[image\n",
        "host-only.toml": 'state_dir = "/tmp/x"\n' + _service("h", 5, 6),
    }
    fleet = load_fleet(str(_write(tmp_path / "etc", files)))
    assert fleet.names == ["good"]
    assert "readiness.max_lagg" in fleet.skipped["typo"]
    assert "not valid TOML" in fleet.skipped["syntax"]
    assert "state_dir is host-wide" in fleet.skipped["host-only"]
    with pytest.raises(ConfigError, match="Several services"):
        fleet.service(None)  # a skipped one still counts: the operator meant several


def test_a_service_key_must_match_its_file(tmp_path: Path) -> None:
    files = {"web.toml": 'service = "api"\n' + _service("w", 1, 2)}
    fleet = load_fleet(str(_write(tmp_path / "etc", files)))
    assert "rename the file to api.toml" in fleet.skipped["web"]


def test_an_empty_directory_says_what_to_put_in_it(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    with pytest.raises(ConfigError, match=r"host\.toml.*NAME\.toml"):
        load_fleet(str(tmp_path / "etc"))


def test_the_example_directory_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "fleet"
    fleet = load_fleet(str(example), watching=True)
    assert fleet.names == ["explorer", "web"] and fleet.skipped == {}
    assert fleet.services["explorer"].catchup and not fleet.services["web"].catchup
