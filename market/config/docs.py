"""The parameter reference, generated from the scenario schema (:mod:`market.config`).

Every pydantic model reachable from :class:`~market.config.ScenarioConfig` is a *section*; each section
becomes one Markdown table with, for every field, its key path, type (with bounds), default and description.
Nested models (including each parameter model of a discriminated union such as ``providers[].pricing``) get
sections of their own, depth-first in declaration order, so the output is deterministic. A model met again at
another key path (``corporate.entrants[].provider`` is a provider) is documented once and referred to::

    python -m market.config.docs > docs/parameters.md

The walker is generic: new fields, new nested models, new union members and new list or mapping sections
appear without changes here.
"""

from __future__ import annotations

import math
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from market.config.schema import ScenarioConfig

__all__ = ["Row", "Section", "collect_sections", "main", "render_markdown"]


@dataclass(frozen=True)
class Row:
    """One documented parameter.

    Attributes:
        key: Key path, e.g. ``providers[].pricing.markup``.
        type: Type with bounds, e.g. ``float ≥ 0``.
        default: Default in TOML notation, or ``required``.
        description: What the parameter is, with its unit.
    """

    key: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class Section:
    """One config section: a pydantic model at a key path.

    Attributes:
        path: Key path of the section (``""`` for the root).
        model: The pydantic model documented here.
        variant: For a member of a discriminated union, ``(discriminator field, tag)``; else None.
        rows: One row per field of ``model``, in declaration order (empty when ``same_as`` is set).
        same_as: Key path of the section that already documents ``model`` (its keys apply here with this
            section's prefix), or None.
    """

    path: str
    model: type[BaseModel]
    variant: tuple[str, str] | None
    rows: tuple[Row, ...]
    same_as: str | None = None

    @property
    def title(self) -> str:
        """Heading of the section."""
        if not self.path:
            return "Scenario (top level)"
        if self.variant is not None:
            name, tag = self.variant
            return f"`{self.path}` with `{name} = \"{tag}\"`"
        return f"`{self.path}`"

    @property
    def summary(self) -> str:
        """The model's docstring, first paragraph, on one line."""
        doc = (self.model.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.split())


# --------------------------------------------------------------------------------------------------------
# Walking the schema
# --------------------------------------------------------------------------------------------------------


def collect_sections(root: type[BaseModel] = ScenarioConfig) -> list[Section]:
    """Every section reachable from ``root``, depth-first in field declaration order.

    Args:
        root: The schema's root model.

    Returns:
        Sections, the root first; a model reached at several key paths is documented at the first and has a
        section with ``same_as`` set at the others.
    """
    sections: list[Section] = []
    _walk(root, "", None, sections, documented={})
    return sections


def _walk(
    model: type[BaseModel],
    path: str,
    variant: tuple[str, str] | None,
    out: list[Section],
    documented: dict[type[BaseModel], str],
) -> None:
    if model in documented:
        out.append(Section(path=path, model=model, variant=variant, rows=(), same_as=documented[model]))
        return
    documented[model] = path
    rows: list[Row] = []
    children: list[tuple[type[BaseModel], str, tuple[str, str] | None]] = []
    for name, field in model.model_fields.items():
        key = f"{path}.{name}" if path else name
        rows.append(Row(key=key, type=render_type(field), default=render_default(field),
                        description=_description(field, name, variant)))
        children.extend(_nested(field.annotation, key, field.discriminator))
    out.append(Section(path=path, model=model, variant=variant, rows=tuple(rows)))
    for child, child_path, child_variant in children:
        _walk(child, child_path, child_variant, out, documented)


_Nested = tuple[type[BaseModel], str, tuple[str, str] | None]


def _nested(annotation: Any, key: str, discriminator: Any) -> Iterator[_Nested]:
    """Nested models under a field annotation, with the key path of their section."""
    annotation = _strip_annotated(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if _is_model(annotation):
        yield annotation, key, None
    elif origin in (list, tuple, set, frozenset) and args:
        for arg in args:
            if arg is not Ellipsis:
                yield from _nested(arg, f"{key}[]", discriminator)
    elif origin in (dict, Mapping) and len(args) == 2:
        yield from _nested(args[1], f"{key}.<name>", discriminator)
    elif _is_union(annotation):
        members = [_strip_annotated(a) for a in args if a is not type(None)]
        models = [m for m in members if _is_model(m)]
        tag_field = discriminator if isinstance(discriminator, str) else None
        for m in models:
            variant = None
            if len(models) > 1:
                tag_field = tag_field or _common_literal_field(models)
                tag = _literal_tag(m, tag_field) if tag_field else None
                variant = (tag_field, tag) if tag_field and tag is not None else ("model", m.__name__)
            yield m, key, variant
        for m in members:
            if not _is_model(m):
                yield from _nested(m, key, discriminator)


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _literal_tag(model: type[BaseModel], field_name: str) -> str | None:
    field = model.model_fields.get(field_name)
    if field is None:
        return None
    values = typing.get_args(_strip_annotated(field.annotation))
    if typing.get_origin(_strip_annotated(field.annotation)) is Literal and len(values) == 1:
        return str(values[0])
    return None


def _common_literal_field(models: list[type[BaseModel]]) -> str | None:
    """The single-value Literal field all union members share (an undeclared discriminator)."""
    for name in models[0].model_fields:
        if all(_literal_tag(m, name) is not None for m in models):
            return name
    return None


# --------------------------------------------------------------------------------------------------------
# Rendering types, defaults and descriptions
# --------------------------------------------------------------------------------------------------------


def render_type(field: FieldInfo) -> str:
    """The field's type in TOML terms, with the bounds of its constraints (``float > 0``, ``int 1 to 50``)."""
    return _type_text(field.annotation, field.metadata)


def _type_text(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> str:
    constraints = list(metadata)
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = typing.get_args(annotation)
        for item in extra:
            constraints.extend(getattr(item, "metadata", [item]) if isinstance(item, FieldInfo) else [item])
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        base = "unset"
    elif _is_model(annotation):
        base = "table"
    elif origin is Literal:
        base = " \\| ".join(_toml(a) for a in args)
    elif _is_union(annotation):
        members = [a for a in args if a is not type(None)]
        if all(_is_model(_strip_annotated(a)) for a in members):
            parts = ["table"]
        else:
            numeric = (int, float)
            parts = [_type_text(a, constraints if _strip_annotated(a) in numeric else ()) for a in members]
        if type(None) in args:
            parts.append("unset")
        return " \\| ".join(dict.fromkeys(parts))
    elif origin in (list, tuple, set, frozenset):
        inner = [a for a in args if a is not Ellipsis]
        if len(inner) == 1 and _is_model(_strip_annotated(inner[0])):
            base = "array of tables"
        elif len(inner) == 1 or (origin is tuple and Ellipsis in args):
            base = f"array of {_type_text(inner[0])}"
        elif inner:
            base = "array [" + ", ".join(_type_text(a) for a in inner) + "]"
        else:
            base = "array"
    elif origin in (dict, Mapping):
        base = f"table of {_type_text(args[1])}" if len(args) == 2 else "table"
    elif annotation is bool:
        base = "bool"
    elif annotation is int:
        base = "int"
    elif annotation is float:
        base = "float"
    elif annotation is str:
        base = "string"
    else:
        base = getattr(annotation, "__name__", str(annotation))
    bounds, length = _bounds_text(constraints)
    text = f"{base} {bounds}" if bounds else base
    return f"{text}, {length}" if length else text


def _bounds_text(constraints: list[Any]) -> tuple[str, str]:
    """Numeric bounds (``≥ 0``, ``in (0, 1]``) and length bounds of a field's constraints."""
    lower: tuple[str, Any] | None = None
    upper: tuple[str, Any] | None = None
    length: list[str] = []
    for c in constraints:
        if isinstance(c, annotated_types.Ge):
            lower = ("[", c.ge)
        elif isinstance(c, annotated_types.Gt):
            lower = ("(", c.gt)
        elif isinstance(c, annotated_types.Le):
            upper = ("]", c.le)
        elif isinstance(c, annotated_types.Lt):
            upper = (")", c.lt)
        elif isinstance(c, annotated_types.MinLen) and c.min_length > 0:
            length.append(f"length ≥ {c.min_length}")
        elif isinstance(c, annotated_types.MaxLen):
            length.append(f"length ≤ {c.max_length}")
    if lower and upper:
        bounds = f"in {lower[0]}{_bound(lower[1])}, {_bound(upper[1])}{upper[0]}"
    elif lower:
        bounds = f"{'≥' if lower[0] == '[' else '>'} {_bound(lower[1])}"
    elif upper:
        bounds = f"{'≤' if upper[0] == ']' else '<'} {_bound(upper[1])}"
    else:
        bounds = ""
    return bounds, ", ".join(length)


def _bound(x: float) -> str:
    """A bound as a plain number: ``0``, ``0.5``, ``100_000``."""
    if isinstance(x, int) and not isinstance(x, bool):
        return _number(x)
    return _number(x).removesuffix(".0")


def render_default(field: FieldInfo) -> str:
    """The default in TOML notation; ``required`` when there is none."""
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:  # a factory that needs the validated data
            return "computed"
        return _default_text(value)
    if field.default is PydanticUndefined:
        return "required"
    return _default_text(field.default)


def _default_text(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        text = _toml(value.model_dump(mode="python", exclude_defaults=True) | _tags(value))
        return "all defaults" if text == "{}" else f"`{text}`"
    if isinstance(value, list | tuple) and not value:
        return "`[]`"
    return f"`{_toml(value)}`"


def _tags(model: BaseModel) -> dict[str, Any]:
    """Single-value Literal fields (strategy tags), which ``exclude_defaults`` would drop."""
    return {name: getattr(model, name) for name in type(model).model_fields
            if _literal_tag(type(model), name) is not None}


def _toml(value: Any) -> str:
    """A value in TOML inline notation."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, BaseModel):
        return _toml(value.model_dump(mode="python", exclude_defaults=True) | _tags(value))
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return "[" + ", ".join(_toml(v) for v in items) + "]"
    if value is None:
        return "unset"
    return str(value)


def _number(x: float) -> str:
    """A number as TOML writes it, short where exact: ``0.25``, ``1e8``, ``inf``."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return f"{x:_}" if abs(x) >= 100_000 else str(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):
        return "nan"
    short = f"{x:g}"
    if float(short) != x:
        short = repr(x)
    if "e" in short:
        mantissa, exponent = short.split("e")
        short = f"{mantissa}e{int(exponent)}"
    elif "." not in short and "inf" not in short:
        short += ".0"
    return short


def _description(field: FieldInfo, name: str, variant: tuple[str, str] | None) -> str:
    """The field's description; for fields without one, the nested model's docstring or the variant tag."""
    text = field.description or ""
    nested = _models_in(field.annotation)
    if not text:
        if variant is not None and name == variant[0]:
            text = f"Selects this parameter set: `{name} = \"{variant[1]}\"`."
        elif len(nested) == 1:
            text = (nested[0].__doc__ or "").strip().split("\n\n")[0]
    if len(nested) > 1:
        declared = field.discriminator if isinstance(field.discriminator, str) else None
        tag_field = declared or _common_literal_field(nested)
        tags = [_literal_tag(m, tag_field) if tag_field else None for m in nested]
        choices = [f"`{t}`" if t is not None else m.__name__ for m, t in zip(nested, tags, strict=True)]
        lead = f"`{tag_field}` is one of" if tag_field else "One of"
        text = f"{text} {lead} {', '.join(choices)} (parameters in the sections below).".strip()
    return " ".join(text.split()).replace("|", "\\|")


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    annotation = _strip_annotated(annotation)
    if _is_model(annotation):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        if arg is not Ellipsis:
            found.extend(m for m in _models_in(arg) if m not in found)
    return found


# --------------------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------------------

_HEADER = """\
# Parameter reference

Every key of a scenario file, with its type, default and meaning. This file is generated from the schema in
`market/config/schema.py` (`make docs`, or `python -m market.config.docs > docs/parameters.md`); a test checks that
it matches the schema, so edit the schema's descriptions, not this file.

**Units.** One step is one month. Token volumes are in millions of tokens (Mtok), prices in US dollars per
Mtok ($/Mtok), money in US dollars ($), power in kW per GPU and MW per region, power prices in $/kWh, rates
"per year" are fractions (0.5 = +50% a year). Utility weights and penalties are in utility units (the scale of
the logit model, `logit.mu`). Quality is a capability index on which the frontier model starts at
`technology.frontier_quality_start`.

**Key paths.** `a.b` is key `b` of TOML table `[a]`; `a[].b` is key `b` of each entry of the array of tables
`[[a]]`. On the command line (`--set`) an array entry is addressed by index or by its `name`:
`providers.0.pricing.markup=0.4`, `providers.challenger.cash_usd=2e9`. Sections written
`` `x` with `strategy = "..."` `` list the parameters of one strategy; the `strategy` key selects which set
applies. A default of `required` means the key must be given; `unset` means the key may be omitted (no value).
Bounds in the type column are enforced when a scenario is loaded.

**Values are strict.** A number is never read from a string (`mu = "0.35"` is an error), a boolean is not a
number (`steps = true` is an error) and an integer key does not take a float (`steps = 10.0`); a float key takes
an integer. Floats are finite and at most 1e15 in magnitude; NaN is never accepted, and `inf` only where a key
documents what it means (unconstrained or unlimited). Provider, reseller and entrant names must stay distinct
after `count` expansion (`x` with `count = 3` creates `x_1`, `x_2`, `x_3`). A file is at most 1 MB, with
brackets nested at most 32 deep and dotted keys of at most 32 parts.
"""


def render_markdown(root: type[BaseModel] = ScenarioConfig) -> str:
    """The whole parameter reference as Markdown (deterministic for a given schema)."""
    sections = collect_sections(root)
    lines = [_HEADER, "## Contents", ""]
    seen: dict[str, int] = {}
    for section in sections:
        anchor = _anchor(section.title)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        lines.append(f"- [{_plain(section.title)}](#{anchor}{f'-{count}' if count else ''})")
    lines.append("")
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.summary:
            lines += [section.summary, ""]
        if section.same_as is not None:
            home = next(s for s in sections if s.model is section.model and s.same_as is None)
            lines += [f"The keys of [`{home.path}`](#{_anchor(home.title)}), under the prefix "
                      f"`{section.path}.` (for example `{section.path}.{next(iter(section.model.model_fields))}`).",
                      ""]
            continue
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for row in section.rows:
            lines.append(f"| `{row.key}` | {row.type} | {row.default} | {row.description} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _plain(title: str) -> str:
    return title.replace("`", "")


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = _plain(title).lower()
    kept = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def main() -> None:
    """Write the parameter reference to standard output."""
    sys.stdout.write(render_markdown())


if __name__ == "__main__":
    main()
