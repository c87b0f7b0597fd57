"""Strategy registries: an agent's decision rule is picked by name from a dictionary of classes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: str, what: str, *, key: str | None = None,
           error: type[Exception] = KeyError) -> T:
    """The entry ``name`` of ``registry`` (``what`` it holds, e.g. "pricing strategy"; ``key``: the config key).

    Raises:
        KeyError (or ``error``): ``name`` is not registered; the message names it and lists the registered names.
    """
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        where = f"{key} = '{name}': unknown {what}" if key else f"unknown {what} '{name}'"
        raise error(f"{where} (choose from {known})") from None
