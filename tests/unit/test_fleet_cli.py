"""The command line over a directory of services: `services`, `--service`/`-s` before or after
the command, `status` and `history` of every service, a command that acts refusing to guess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import EXIT_USAGE, main, parse_args


def _fleet(root: Path) -> Path:
    etc = root / "etc"
    etc.mkdir()
    (etc / "host.toml").write_text(
        f'state_dir = "{root / "state"}"\n[proxy]\ninclude_dir = "{root / "nginx"}"\n'
    )
    for name, port in (("web", 18081), ("api", 18083)):
        (etc / f"{name}.toml").write_text(
            f'[image]\nrepository = "{name}"\n[candidate]\nkind = "none"\n'
            f'[slots.blue]\ncontainer = "{name}-blue"\n'
            f'host_port = {port}\n[slots.green]\ncontainer = "{name}-green"\n'
            f"host_port = {port + 1}\n"
        )
    (etc / "broken.toml").write_text("[slots.blue]\nhost_porte = 1\n")
    return etc


def test_service_goes_before_or_after_the_command() -> None:
    assert parse_args(["-s", "web", "status"]).service == "web"
    assert parse_args(["status", "--service", "web"]).service == "web"
    assert parse_args(["status"]).service is None


def test_services_lists_every_service_and_the_skipped_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    etc = _fleet(tmp_path)
    assert main(["--config", str(etc), "services", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["service"] for row in listed["services"]] == ["api", "web"]
    assert listed["services"][1]["state_dir"] == str(tmp_path / "state" / "web")
    assert listed["skipped"][0]["service"] == "broken"
    assert "slots.blue.host_porte" in listed["skipped"][0]["error"]


def test_status_and_history_without_a_name_show_every_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    etc = _fleet(tmp_path)
    assert main(["--config", str(etc), "status", "--json"]) == 0
    assert [s["service"] for s in json.loads(capsys.readouterr().out)["services"]] == ["api", "web"]
    assert main(["--config", str(etc), "history", "--json"]) == 0
    assert [s["service"] for s in json.loads(capsys.readouterr().out)["services"]] == ["api", "web"]
    assert main(["--config", str(etc), "status", "-s", "web", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["service"] == "web"


def test_a_command_that_acts_names_the_services_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    etc = _fleet(tmp_path)
    assert main(["--config", str(etc), "switch", "--yes"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "Several services are configured (api, broken, web)" in err and "--service" in err
    assert main(["--config", str(etc), "-s", "nope", "switch", "--yes"]) == EXIT_USAGE
    assert "no service 'nope'" in capsys.readouterr().err


def test_config_check_fails_on_a_skipped_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    etc = _fleet(tmp_path)
    assert main(["--config", str(etc), "config", "check"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert "Service 'web'" in captured.out and "Service broken" in captured.err


def test_config_check_of_a_directory_resolves_every_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = _fleet(tmp_path)
    (etc / "broken.toml").unlink()
    web = etc / "web.toml"
    web.write_text(web.read_text() + '[notify]\nwebhook_url = "${BG_TEST_UNSET_HOOK}"\n')
    monkeypatch.delenv("BG_TEST_UNSET_HOOK", raising=False)
    assert main(["--config", str(etc), "config", "check"]) == EXIT_USAGE
    assert "BG_TEST_UNSET_HOOK" in capsys.readouterr().err
