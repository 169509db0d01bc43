"""Cheap deterministic randomness keyed by (seed, job index, purpose).

Seeding ``random.Random`` costs ~5 us (it fills a 624-word state), which
dominates at 100,000 jobs, so single draws (creation jitter, identity) use a
splitmix64 hash of integer keys and each job seeds at most one or two
``random.Random`` streams. Never the global ``random`` module.
"""

from __future__ import annotations

import zlib

_MASK = (1 << 64) - 1


def _mix(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


mix = _mix


def key(*parts: int | str) -> int:
    """Fold parts into one 64-bit key; strings via crc32 (stable across runs, unlike hash())."""
    z = 0
    for p in parts:
        z = _mix(z ^ (zlib.crc32(p.encode()) if isinstance(p, str) else p & _MASK))
    return z


def key3(a: int, b: int, c: int) -> int:
    """``key(a, b, c)`` for three integers, inlined: plan building calls it several times per job."""
    z = 0
    for p in (a, b, c):
        z = ((z ^ (p & _MASK)) + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
    return z


def unit3(a: int, b: int, c: int) -> float:
    """``unit(a, b, c)`` for three integers."""
    return (key3(a, b, c) >> 11) * (1.0 / (1 << 53))


def fields(k: int, n: int) -> float:
    """The n-th of four 16-bit uniforms in [0, 1) packed in a 64-bit key: several draws for one hash."""
    return ((k >> (16 * n)) & 0xFFFF) / 65536.0


def unit(*parts: int | str) -> float:
    """A float in [0, 1) determined by parts."""
    return (key(*parts) >> 11) * (1.0 / (1 << 53))
