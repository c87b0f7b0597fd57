"""Reading TOML safely: size and nesting are bounded before the (recursive) parser runs.

Configs are data: TOML is parsed with :mod:`tomllib`, never evaluated.

Before a file is parsed its size and shape are bounded, so that a pathological file fails quickly and in
bounded memory instead of exhausting the parser's recursion or the machine: at most :data:`MAX_TOML_BYTES`
(1 MB), brackets (arrays, inline tables, table headers) nested at most :data:`MAX_TOML_DEPTH` (32) deep, and
dotted keys of at most :data:`MAX_KEY_PARTS` (32) parts, checked by one scan of the text; the parsed document
is also at most :data:`MAX_TOML_DEPTH` tables and arrays deep. ``--set`` values pass the same checks.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from market.config.errors import ConfigError

MAX_TOML_BYTES = 1_000_000
"""Largest config file read, in bytes (the shipped ones are a few kB)."""
MAX_TOML_DEPTH = 32
"""Deepest nesting of brackets in a TOML text, and of tables and arrays in a parsed document."""
MAX_KEY_PARTS = 32
"""Most parts of a dotted key (``a.b.c`` has three)."""

_STRINGS_AND_COMMENTS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*+"""|\'\'\'(?:[^\']|\'(?!\'\'))*+\'\'\'|"(?:[^"\\\n]|\\.)*+"|\'[^\'\n]*+\'|#[^\n]*+'
)
_BRACKETS = re.compile(r"[\[\]{}]")
_LONG_DOTTED_KEY = re.compile(
    rf"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]++(?:[ \t]*+\.[ \t]*+[A-Za-z0-9_-]++){{{MAX_KEY_PARTS},}}"
)


def check_toml_text(text: str, source: str) -> None:
    """Reject a TOML text whose brackets nest too deep or that has a dotted key of too many parts.

    One linear scan with strings and comments blanked out; it runs before the (recursive) parser does.

    Raises:
        ConfigError: Nesting deeper than :data:`MAX_TOML_DEPTH` or a key of more than :data:`MAX_KEY_PARTS` parts.
    """
    bare = _STRINGS_AND_COMMENTS.sub("s", text)
    depth = deepest = 0
    for match in _BRACKETS.finditer(bare):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        if depth > deepest:
            deepest = depth
            if deepest > MAX_TOML_DEPTH:
                line = bare.count("\n", 0, match.start()) + 1
                raise ConfigError(
                    f"{source}: brackets nested more than {MAX_TOML_DEPTH} deep (line {line}); "
                    "a config is never that deep"
                )
    long_key = _LONG_DOTTED_KEY.search(bare)
    if long_key is not None:
        line = bare.count("\n", 0, long_key.start()) + 1
        parts = long_key.group().count(".") + 1
        raise ConfigError(f"{source}: a dotted key of {parts} parts (line {line}); at most {MAX_KEY_PARTS} allowed")


def check_document_depth(data: Any, source: str) -> None:
    """Reject a parsed document whose tables and arrays nest deeper than :data:`MAX_TOML_DEPTH`.

    Raises:
        ConfigError: The document is too deep.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TOML_DEPTH:
            raise ConfigError(f"{source}: tables and arrays nested more than {MAX_TOML_DEPTH} deep")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Parse TOML text after the size and shape checks, with errors that name ``source``.

    Raises:
        ConfigError: The text is too large, too deep, or not valid TOML.
    """
    if len(text) > MAX_TOML_BYTES:
        raise ConfigError(f"{source}: {len(text):,} characters; a config file holds at most {MAX_TOML_BYTES:,}")
    check_toml_text(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # the checks above should make this unreachable
        raise ConfigError(f"{source}: nested too deep to parse") from None
    check_document_depth(data, source)
    return data


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file into a dict, with a clear error when it is missing, too large or malformed.

    Raises:
        ConfigError: The file is missing, larger than :data:`MAX_TOML_BYTES`, not UTF-8, too deeply nested or
            not valid TOML.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such file")
    size = p.stat().st_size
    if size > MAX_TOML_BYTES:
        raise ConfigError(f"{p}: {size:,} bytes; a config file is at most {MAX_TOML_BYTES:,} bytes")
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_TOML_BYTES + 1)
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    return parse_toml(text, str(p))
