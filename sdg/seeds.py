"""Stable seeds: every random choice of sdg derives from the job seed and names, identically in every process."""
from __future__ import annotations

import hashlib


def stable_seed(*parts) -> int:
    """A 63-bit seed from any printable parts, identical across processes and runs (unlike hash())."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)
