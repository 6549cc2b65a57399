"""TOML tables → frozen dataclasses, with key-path, did-you-mean errors and `${SECRET}` lookup.

Hand-written on purpose (see docs/ARCHITECTURE.md, "Configuration"): the schema is a few dataclasses
and tagged unions, and every message here is a sentence written for an operator. A union of
dataclasses is tagged by their `kind` field: the table's `kind` (default: the first member's)
chooses the class, and only that class's keys are accepted. So is a field typed with a family's
base class: its `kinds()` lists the members, its `misplaced(kind)` may explain a kind that
belongs elsewhere (config/sources.py's progress kinds).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
NOT_KEYS = {"path", "secret_values"}  # Config fields that are not TOML keys
# Whole values under these keys are secrets; so is every `${NAME}` a value refers to.
_SECRET_KEYS = {"db_url", "host_db_url", "webhook_url", "watch_url", "password"}


class ConfigError(Exception):
    """A configuration problem, phrased for the operator: what is wrong, where, what to do."""


class SecretResolver:
    """`${NAME}` from the environment or the secrets file. `watching`: a user who may only watch
    cannot read the operators' secrets file and needs none of it (the store holds no secret), so
    an unreadable file or unset name leaves `${NAME}` as written."""

    def __init__(self, secrets_file: object, config_path: Path, watching: bool = False) -> None:
        self.file_values: dict[str, str] = {}
        self.used: list[str] = []
        self.watching = watching
        if isinstance(secrets_file, str) and secrets_file:
            file = Path(secrets_file)
            if not file.is_absolute():
                file = config_path.parent / file
            if not (watching and not os.access(file, os.R_OK)):
                self.file_values = _read_env_file(file)

    def expand(self, value: str, key_path: str) -> str:
        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            found = os.environ.get(name, self.file_values.get(name))
            if found is None and self.watching:
                return match.group(0)
            if found is None:
                raise ConfigError(
                    f"{key_path} refers to ${{{name}}}, which is not set. Export {name} in the "
                    "environment or add it to the secrets_file."
                )
            self._remember(found)  # e.g. the API key inside an RPC URL
            return found

        expanded = _ENV_REF.sub(lookup, value)
        parts = key_path.split(".")
        if parts[-1] in _SECRET_KEYS or (len(parts) > 1 and parts[-2] == "headers"):
            self._remember(expanded)  # header values (Authorization, API keys) are secrets
        elif parts[-1] == "url" and ("@" in expanded or expanded.startswith("postgres")):
            self._remember(expanded)  # a source's database URL, or one with credentials in it
        return expanded

    def _remember(self, secret: str) -> None:
        if secret and secret not in self.used:
            self.used.append(secret)


def _read_env_file(file: Path) -> dict[str, str]:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"secrets_file {file} cannot be read ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"secrets_file {file} is not UTF-8 text: point it at a file of KEY=VALUE lines."
        ) from None
    values: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep:
            raise ConfigError(f"secrets_file {file} line {number} is not KEY=VALUE.")
        values[name.strip()] = value.strip().strip('"').strip("'")
    return values


def build(cls: type[Any], raw: object, key_path: str, secrets: SecretResolver) -> Any:
    where = key_path or "the top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table (section), not {_kind(raw)}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in NOT_KEYS}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        sub_path = f"{key_path}.{key}" if key_path else key
        if key not in fields:
            near = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" Did you mean '{near[0]}'?" if near else ""
            valid = ", ".join(sorted(fields))
            kind = getattr(cls, "kind", None)
            here = f' for kind = "{kind}"' if isinstance(kind, str) else " here"
            raise ConfigError(f"Unknown key '{sub_path}'.{hint} Valid keys{here}: {valid}.")
        values[key] = coerce(hints[key], value, sub_path, secrets)
    return cls(**values)


def _tagged(
    members: list[type[Any]],
    raw: object,
    key_path: str,
    secrets: SecretResolver,
    misplaced: typing.Callable[[str], str] = lambda _kind: "",
) -> Any:
    """Choose the member whose `kind` the table names; default: the first member's kind."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{key_path} must be a table (section), not {_kind(raw)}.")
    table = {str(member.kind): member for member in members}
    kind = raw.get("kind", members[0].kind)
    if not isinstance(kind, str) or kind not in table:
        choices = ", ".join(repr(k) for k in table)
        near = difflib.get_close_matches(str(kind), list(table), n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        hint += misplaced(str(kind))
        raise ConfigError(f"{key_path}.kind = {kind!r} is not allowed: use one of {choices}.{hint}")
    chosen = table[kind]
    own = {f.name for f in dataclasses.fields(chosen)}
    kept: dict[str, object] = {}
    for key, value in raw.items():
        owner = next((m for m in members if key in {f.name for f in dataclasses.fields(m)}), None)
        if key in own or owner is None:
            kept[key] = value  # its own key, or a typo that build() explains with a did-you-mean
        elif value not in ("", [], {}) and value != _default(owner, key):
            raise ConfigError(
                f"{key_path}.{key} belongs to kind = {owner.kind!r}, not {kind!r}: remove it or "
                f"set {key_path}.kind = {owner.kind!r}."
            )
        # else: another kind's key left empty or at its default (a template listing every key,
        # as config.example.toml did before [proxy] was split by kind): ignored
    return build(chosen, kept, key_path, secrets)


def _default(member: type[Any], key: str) -> object:
    found = next(f for f in dataclasses.fields(member) if f.name == key)
    if found.default_factory is not dataclasses.MISSING:
        return found.default_factory()
    return found.default


def coerce(hint: Any, value: object, key_path: str, secrets: SecretResolver) -> Any:
    origin = typing.get_origin(hint)
    if _is_family(hint):
        return _tagged(hint.kinds(), value, key_path, secrets, hint.misplaced)
    if dataclasses.is_dataclass(hint):
        return build(typing.cast(type[Any], hint), value, key_path, secrets)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            near = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
            hint_text = f" Did you mean {near[0]!r}?" if near else ""
            raise ConfigError(
                f"{key_path} = {value!r} is not allowed: use one of {choices}.{hint_text}"
            )
        return value
    if origin is dict:
        _, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{key_path} must be a table of name = value, not {_kind(value)}.")
        return {str(k): coerce(value_type, v, f"{key_path}.{k}", secrets) for k, v in value.items()}
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f'{key_path} must be a list, e.g. ["a", "b"], not {_kind(value)}.')
        return [coerce(item_type, v, f"{key_path}[{i}]", secrets) for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(members) == 1 and _is_family(members[0]):  # `Family | None`: None = no table
            return coerce(members[0], value, key_path, secrets)
        if all(dataclasses.is_dataclass(m) and hasattr(m, "kind") for m in members):
            return _tagged(members, value, key_path, secrets)
        raise ConfigError(f"{key_path}: unsupported type")  # pragma: no cover - schema guard
    if hint is Any:
        return _json_value(value, key_path, secrets)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key_path} must be true or false, not {_kind(value)}.")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key_path} must be a whole number, not {_kind(value)}.")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key_path} must be a number, not {_kind(value)}.")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key_path} must be a string in quotes, not {_kind(value)}.")
        return secrets.expand(value, key_path)
    raise ConfigError(f"{key_path}: unsupported type {hint!r}")  # pragma: no cover


def _is_family(hint: Any) -> bool:
    """A base class standing for its tagged members (not itself a dataclass)."""
    return (
        isinstance(hint, type)
        and not dataclasses.is_dataclass(hint)
        and callable(getattr(hint, "kinds", None))
    )


def _json_value(value: object, key_path: str, secrets: SecretResolver) -> Any:
    """A value sent as JSON (JSON-RPC params): TOML strings, numbers, booleans, lists, tables."""
    if isinstance(value, str):
        return secrets.expand(value, key_path)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{key_path} = {value} cannot be sent as JSON: use a finite number.")
        return value
    if isinstance(value, list):
        return [_json_value(v, f"{key_path}[{i}]", secrets) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _json_value(v, f"{key_path}.{k}", secrets) for k, v in value.items()}
    raise ConfigError(
        f"{key_path} is {_kind(value)}, which cannot be sent as JSON: use a string instead."
    )


def _kind(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), f"a {type(value).__name__}")
