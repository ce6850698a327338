"""Compact bytes for stats objects: a compressed numpy `.npz` archive, never pickle."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["pack", "strings", "unpack"]


def pack(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Serialize named arrays (numbers or unicode strings) to compressed `.npz` bytes."""
    buffer = io.BytesIO()
    named: dict[str, Any] = {name: np.asarray(a) for name, a in arrays.items()}
    np.savez_compressed(buffer, **named)
    return buffer.getvalue()


def unpack(data: bytes) -> dict[str, np.ndarray]:
    """Read arrays written by `pack`; object arrays are refused (no pickle is ever loaded)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def strings(values: Iterable[object]) -> np.ndarray:
    """A unicode array of `values` (an empty one stays unicode: it round-trips without pickle)."""
    items = [str(v) for v in values]
    return np.asarray(items, dtype=str) if items else np.empty(0, dtype="<U1")
