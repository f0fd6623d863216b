"""A day's scores packed small, and read back: what the proof of the scorer reads a company's band
and rank before its outcome from. Pure numpy: no Django.

Per scored company: its id as the delta from the previous id (uint32, then zlib: ids of a real
table are dense, so ~0.05 byte), its fit as int16 (fit * 10,000: 1e-4, finer than any band edge
moves) and its band as one byte: ~3 bytes a company, ~3.1 MB a day at a million (docs/benchmarks.md, *Score snapshots*)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from leads.scoring import bands

FIT_SCALE = 10_000
FEW = 16  # companies whose rank is counted one by one rather than read off a sort of the day
BAND_CODES = {band.key: code for code, band in enumerate(bands.BANDS)}  # strong 0 ... unexplored 4


@dataclass(frozen=True)
class Packed:
    ids: bytes
    fits: bytes
    bands: bytes


@dataclass(frozen=True)
class Day:
    """One snapshot read back: ids ascending, fits, band codes and each company's top share."""

    ids: np.ndarray  # (n,) int64, ascending
    fits: np.ndarray  # (n,) float64, to 1e-4
    bands: np.ndarray  # (n,) uint8, index into bands.BANDS

    def top_share(self, at: np.ndarray) -> np.ndarray:
        """The rank of the companies at positions `at` as the share of the day's companies with a
        higher fit, 0..1 (0: the best). A few are counted, many read off one sort of the day."""
        fits, n = self.fits[np.asarray(at, np.int64)], max(len(self.fits), 1)
        if len(fits) <= FEW:
            return np.array([np.count_nonzero(self.fits > fit) for fit in fits], np.float64) / n
        order = np.sort(self.fits)
        return (len(order) - np.searchsorted(order, fits, side="right")) / n

    def find(self, company_ids: np.ndarray) -> np.ndarray:
        """Each company's position in the day, -1 where it had no score that day."""
        company_ids = np.asarray(company_ids, np.int64)
        if not len(self.ids):
            return np.full(len(company_ids), -1)
        at = np.minimum(np.searchsorted(self.ids, company_ids), len(self.ids) - 1)
        return np.where(self.ids[at] == company_ids, at, -1)


def band_codes(fits: np.ndarray, unexplored: np.ndarray, supported: np.ndarray) -> np.ndarray:
    """Each company's band (bands.Distribution.band, against the day's own distribution), as codes."""
    keys = bands.Distribution.of(fits).bands(fits, unexplored, supported)
    codes = np.zeros(len(fits), np.uint8)
    for key, code in BAND_CODES.items():
        codes[keys == key] = code
    return codes


def pack(ids: np.ndarray, fits: np.ndarray, codes: np.ndarray) -> Packed:
    """`ids` ascending."""
    deltas = np.diff(np.asarray(ids, np.int64), prepend=0).astype("<u4")
    scaled = np.clip(np.rint(np.asarray(fits) * FIT_SCALE), -32767, 32767).astype("<i2")
    return Packed(zlib.compress(deltas.tobytes(), 6), scaled.tobytes(), np.asarray(codes, np.uint8).tobytes())


def unpack(ids: bytes, fits: bytes, codes: bytes) -> Day:
    deltas = np.frombuffer(zlib.decompress(bytes(ids)), "<u4").astype(np.int64)
    return Day(
        np.cumsum(deltas),
        np.frombuffer(bytes(fits), "<i2").astype(np.float64) / FIT_SCALE,
        np.frombuffer(bytes(codes), np.uint8),
    )
