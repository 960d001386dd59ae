"""JSON as homeflow reads and writes it: NaN and Infinity are not JSON, so they are refused both ways."""

from __future__ import annotations

import json
import math
from typing import Any


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    # Python reads 1e400 as inf: as much a number JSON cannot carry back out as a literal Infinity.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value


def loads(data: str | bytes | bytearray) -> Any:
    """The value `data` holds; ValueError when it is not JSON, holds NaN or Infinity, or nests too deeply."""
    try:
        return json.loads(data, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def dumps(value: Any, *, indent: int | None = None, compact: bool = False, ascii_only: bool = True) -> str:
    """`value` as JSON text; ValueError if it holds NaN or Infinity (they would reach a peer as non-JSON)."""
    separators = (",", ":") if compact else None
    return json.dumps(value, allow_nan=False, indent=indent, separators=separators, ensure_ascii=ascii_only)
