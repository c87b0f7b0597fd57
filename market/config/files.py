"""Reading scenario files: TOML parsing, ``--set`` overrides and readable validation errors.

Configs are data: TOML is parsed with :mod:`tomllib`, never evaluated. Every error is raised as
:class:`ConfigError`, whose message names the key path and the offending value.

Files are read by :func:`market.config.toml_reader.read_toml`, which bounds their size and nesting before
parsing; ``--set`` values pass the same checks.

A scenario is named by a path or by the name of a shipped config (``"baseline"`` for
``experiments/configs/baseline.toml``, ``"validation/logit_duopoly"``): :func:`resolve_scenario_path`.
"""

from __future__ import annotations

import copy
import difflib
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from market.config.errors import ConfigError
from market.config.schema import InvestmentConfig, PricingConfig, ScenarioConfig
from market.config.toml_reader import MAX_KEY_PARTS, parse_toml, read_toml

ModelT = TypeVar("ModelT", bound=BaseModel)

SHIPPED_CONFIG_DIR = Path(__file__).resolve().parents[2] / "experiments" / "configs"
"""The shipped scenario configs; a scenario named without ``.toml`` (e.g. ``"baseline"``) is looked up here."""


def format_path(loc: Iterable[str | int]) -> str:
    """Render a location tuple as a key path, e.g. ``providers[0].pricing.markup``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def _field_names_at(model: type[BaseModel], loc: Sequence[str | int], data: Any) -> list[str]:
    """Field names of the pydantic model that owns ``loc`` (used for did-you-mean on unknown keys)."""
    current: Any = model
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            node = node.get(part) if isinstance(node, Mapping) else None
            if field is None:
                return list(current.model_fields)
            current = _resolve_model(field.annotation, node)
        else:
            # A discriminated-union tag appears in the location (e.g. 'cost_plus'): stay on the chosen model.
            continue
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _resolve_model(annotation: Any, node: Any) -> Any:
    """The BaseModel class behind an annotation (list[X], X | None, discriminated unions)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _resolve_model(args[0], node)
    if origin in (list, tuple):
        return _resolve_model(args[0], node)
    if args and origin is not None:
        models = [_resolve_model(a, node) for a in args]
        models = [m for m in models if isinstance(m, type) and issubclass(m, BaseModel)]
        if isinstance(node, Mapping) and "strategy" in node:
            for m in models:
                tag = m.model_fields.get("strategy")
                if tag is not None and tag.default == node["strategy"]:
                    return m
        return models[0] if models else annotation
    return annotation


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_validation_error(
    exc: ValidationError, data: Mapping[str, Any], model: type[BaseModel] = ScenarioConfig, source: str = ""
) -> str:
    """Turn a pydantic ValidationError into one line per problem naming the key path and the bad value."""
    prefix = f"{source}: " if source else ""
    lines: list[str] = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        path = format_path(loc)
        etype = err["type"]
        if etype == "extra_forbidden":
            key = str(loc[-1])
            known = _field_names_at(model, loc[:-1], data)
            hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            msg = f"unknown key '{path}'"
            msg += f"; did you mean '{hint[0]}'?" if hint else f" (allowed here: {', '.join(sorted(known))})"
        elif etype == "union_tag_invalid":
            ctx = err.get("ctx", {})
            tag = ctx.get("tag", "?")
            expected = ctx.get("expected_tags", "")
            hint = difflib.get_close_matches(str(tag), [t.strip(" '") for t in str(expected).split(",")], n=1)
            msg = f"{path}.strategy = {tag!r}: unknown strategy (choose from {expected})"
            if hint:
                msg += f"; did you mean '{hint[0]}'?"
        elif etype == "missing":
            msg = f"missing required key '{path}'"
        elif etype in ("value_error", "assertion_error") and not loc:
            msg = err["msg"].removeprefix("Value error, ")
        else:
            text = err["msg"].removeprefix("Value error, ")
            if "input" in err and etype != "value_error":
                msg = f"{path} = {_describe(err['input'])}: {text}"
            else:
                msg = f"{path}: {text}"
        lines.append(prefix + msg)
    return "\n".join(dict.fromkeys(lines))


def _union_tags() -> set[str]:
    """Location parts pydantic adds for union members: the strategy names of the discriminated unions, and the
    member names of the provider ``quality`` union. They are dropped from key paths in messages."""
    tags = {"float", "literal['frontier','open']"}
    for union in (PricingConfig, InvestmentConfig):
        members = typing.get_args(typing.get_args(union)[0])
        tags |= {member.model_fields["strategy"].default for member in members}
    return tags


_UNION_TAGS = _union_tags()



def resolve_scenario_path(ref: str | Path, relative_to: Path | None = None, key: str = "") -> Path:
    """Find a scenario file from a shipped config name or a path.

    A reference ending in ``.toml`` is a path, tried relative to ``relative_to`` (the referring file's directory)
    and then as given; any other reference is the name of a shipped config (``"baseline"``,
    ``"validation/logit_duopoly"``) in :data:`SHIPPED_CONFIG_DIR`, unless a file of that exact path exists.

    Args:
        ref: The name or path.
        relative_to: Directory of the file that refers to it.
        key: How the reference was given, for messages (e.g. ``"base"``).

    Raises:
        ConfigError: No such file, or no shipped config of that name.
    """
    text = str(ref)
    label = f"{key} = '{text}'" if key else f"'{text}'"
    if not text.endswith(".toml"):
        candidate = SHIPPED_CONFIG_DIR / f"{text}.toml"
        if text and not Path(text).is_absolute() and candidate.is_file():
            return candidate
        if Path(text).is_file():
            return Path(text)
        shipped = sorted(p.stem for p in SHIPPED_CONFIG_DIR.glob("*.toml"))
        raise ConfigError(f"{label}: no shipped config of that name (have: {', '.join(shipped)}) and no such file")
    path = Path(text)
    if not path.is_absolute() and relative_to is not None and (relative_to / path).is_file():
        return relative_to / path
    if not path.is_file():
        raise ConfigError(f"{label}: no such file")
    return path


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a TOML-typed value (``inf``, ``true``, ``"x"``, ``[1, 2]``).

    A value that is not valid TOML is taken as a bare string, so ``--set providers.0.pricing.strategy=adaptive``
    works without quotes.
    """
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not of the form key.path=value")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override '{text}': empty key")
    raw = raw.strip()
    parts = key.split(".")
    if len(parts) > MAX_KEY_PARTS:
        raise ConfigError(f"override '{text[:60]}...': a key of {len(parts)} parts; at most {MAX_KEY_PARTS} allowed")
    try:
        value = parse_toml(f"v = {raw}", f"override '{key}'")["v"]
    except ConfigError as exc:
        if "not valid TOML" not in str(exc):
            raise
        value = raw
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``key.path=value`` override applied.

    List items are addressed by index (``providers.0.markup``) or by their ``name`` (``providers.acme.markup``).
    """
    out = copy.deepcopy(dict(data))
    for text in overrides:
        path, value = parse_override(text)
        set_path(out, ".".join(path), value)
    return out


def apply_settings(data: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``{"key.path": value}`` settings applied (same paths as ``--set``)."""
    out = copy.deepcopy(dict(data))
    for key, value in settings.items():
        set_path(out, key, value)
    return out


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``value`` at dotted ``key`` in ``data`` in place, creating tables as needed.

    Raises:
        ConfigError: The path runs through a value, or names a list item that does not exist.
    """
    path = key.split(".")
    if not key or any(not part for part in path):
        raise ConfigError(f"setting '{key}': empty key")
    text = f"{key}={value!r}"
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        node = _step_into(node, part, path[: depth + 1], text)
    last = path[-1]
    if isinstance(node, list):
        node[_list_index(node, last, path, text)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"setting '{text}': '{'.'.join(path[:-1])}' is a value, not a table")


def _list_index(node: list[Any], part: str, path: list[str], text: str) -> int:
    if part.lstrip("-").isdigit():
        idx = int(part)
        if not -len(node) <= idx < len(node):
            raise ConfigError(f"override '{text}': index {idx} out of range at '{'.'.join(path)}' (length {len(node)})")
        return idx
    names = [item.get("name") for item in node if isinstance(item, dict)]
    if part in names:
        return names.index(part)
    hint = difflib.get_close_matches(part, [n for n in names if n], n=1)
    extra = f"; did you mean '{hint[0]}'?" if hint else ""
    raise ConfigError(f"override '{text}': no item named '{part}' at '{'.'.join(path)}'{extra}")


def _step_into(node: Any, part: str, path: list[str], text: str) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, part, path, text)]
    if isinstance(node, dict):
        if part not in node:
            node[part] = {}
        elif not isinstance(node[part], dict | list):
            raise ConfigError(f"override '{text}': '{'.'.join(path)}' is a value, not a table")
        return node[part]
    raise ConfigError(f"override '{text}': '{'.'.join(path[:-1])}' is a value, not a table")


def validate_data(
    data: Mapping[str, Any], model: type[ModelT] = ScenarioConfig, source: str = ""  # type: ignore[assignment]
) -> ModelT:
    """Validate a parsed document against ``model``, raising :class:`ConfigError` with readable messages."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, data, model, source)) from None


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> ScenarioConfig:
    """Read, override and validate a scenario TOML file.

    Args:
        path: Scenario file, or the name of a shipped config (``"baseline"``), from any working directory.
        overrides: ``key.path=value`` strings applied before validation.

    Returns:
        The validated scenario.

    Raises:
        ConfigError: The file is missing, is not TOML, or does not validate; the message names the key.
    """
    file = resolve_scenario_path(path)
    data = apply_overrides(read_toml(file), overrides)
    return validate_data(data, ScenarioConfig, str(path))


def scenario_from_dict(data: Mapping[str, Any], overrides: Iterable[str] = ()) -> ScenarioConfig:
    """Validate a scenario given as a dict (from a notebook or a sweep), after applying overrides."""
    return validate_data(apply_overrides(dict(data), overrides), ScenarioConfig)


KEY_PATH_SEPARATOR = "__"
"""Separator of key-path parts in keyword settings: ``logit__mu=0.4`` is the setting ``logit.mu = 0.4``."""


def scenario_with_settings(config: ScenarioConfig, settings: Mapping[str, Any]) -> ScenarioConfig:
    """Apply keyword settings to a validated scenario and validate the result.

    Args:
        config: A validated scenario.
        settings: Values by key path, its parts joined by ``__`` or ``.`` (``logit__mu``,
            ``providers__cloud_a__lock_in``); list items by index or name, as for ``--set``.

    Returns:
        ``config`` itself when there are no settings, else the new validated scenario.

    Raises:
        ConfigError: A key path does not exist or a value is invalid; the message names it.
    """
    if not settings:
        return config
    dotted = {key.replace(KEY_PATH_SEPARATOR, "."): value for key, value in settings.items()}
    return validate_data(apply_settings(config.model_dump(mode="python"), dotted), ScenarioConfig)
