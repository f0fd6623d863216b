"""Companies in space: 384-d vectors to 2-D map coordinates. Pure numpy, no Django.

Two ways to lay the map out:

- **PCA** (always there): the plane of the two directions along which the companies vary most.
  Fitted on a sample (SAMPLE_SIZE rows: the eigenvectors of a 384 x 384 covariance matrix, a
  fraction of a second, where an SVD of the 20,000 rows takes seconds), then every company is
  projected with one matrix product per chunk (about 2 s a million on 2 cores). The basis (mean and two components) is
  kept, so companies embedded later land where the same projection puts them: the map does not move.
- **UMAP** (when `umap-learn` is installed; it is not a dependency): a non-linear layout that keeps
  local neighbourhoods. Fitted on a smaller sample (UMAP_SAMPLE_SIZE, the anchors); every other
  company is placed at the distance-weighted mean of its nearest anchors in the original space,
  and so are later ones (a million x 5,000 similarities: tens of seconds).

Vectors are made unit length first: scores use cosine distance, and on unit vectors the squared
Euclidean distance PCA preserves is twice the cosine distance.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

SAMPLE_SIZE = 20_000  # rows a PCA is fitted on
UMAP_SAMPLE_SIZE = 5_000  # rows UMAP is fitted on: the anchors every other row is placed against
CHUNK_ROWS = 50_000  # rows projected at a time (50,000 x 384 float64: 150 MB)
PLACE_CHUNK_ROWS = 5_000  # rows placed against the anchors at a time (5,000 x 5,000 float32 similarities)
NEIGHBOURS = 10  # anchors a company placed by place_by_neighbours is averaged over
UMAP_MIN_ROWS = 50  # below this UMAP's neighbour graph is degenerate: PCA instead


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float64 rows of length 1 (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def sample_indices(n: int, size: int = SAMPLE_SIZE, seed: int = 0) -> np.ndarray:
    """Ascending row indices of a deterministic sample of min(n, size) of n rows."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def sample_keys(company_ids: np.ndarray) -> np.ndarray:
    """A key in [0, 1) per company id that looks random but depends only on the id (a
    multiplicative hash): the map page shows the companies with the lowest keys, so its sample
    neither changes between requests nor shifts when other companies come and go."""
    hashed = np.asarray(company_ids).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # wraps mod 2**64
    return (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class Basis:
    """A linear map to the plane: xy = (unit(vector) - mean) @ components.T."""

    mean: np.ndarray  # (dims,) float64
    components: np.ndarray  # (2, dims) float64, orthonormal rows (a zero row when rank < 2)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """(n, 2) float64 coordinates, CHUNK_ROWS rows at a time (memory stays bounded).

        unit(v) @ C.T - mean @ C.T: the same as centring unit rows, without two more passes
        over a (n, dims) matrix."""
        out = np.empty((len(vectors), 2))
        shift = self.mean @ self.components.T
        for start in range(0, len(vectors), CHUNK_ROWS):
            rows = np.asarray(vectors[start : start + CHUNK_ROWS], dtype=np.float64)
            norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
            out[start : start + len(rows)] = (rows @ self.components.T) / np.where(norms == 0, 1.0, norms)[
                :, None
            ] - shift
        return out

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "components": self.components.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> Basis:
        return cls(mean=np.array(data["mean"], dtype=np.float64), components=np.array(data["components"]))


def fit_pca(vectors: np.ndarray, *, sample_size: int = SAMPLE_SIZE, seed: int = 0) -> Basis:
    """The two principal directions of (a deterministic sample of) the unit vectors: the
    eigenvectors of their covariance matrix with the two largest eigenvalues (a direction with
    none, when the rows span less than a plane, is a zero row).

    The sign of an eigenvector is arbitrary: each component is flipped so that its largest entry
    is positive, so the same vectors always give the same map."""
    if len(vectors) == 0:
        raise ValueError("no vectors to fit a map on")
    rows = unit_rows(vectors[sample_indices(len(vectors), sample_size, seed)])
    mean = rows.mean(axis=0)
    centred = rows - mean
    values, eigenvectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    top = np.argsort(values)[::-1][:2]
    components = eigenvectors[:, top].T * (values[top] > 1e-12 * max(values.max(), 1e-300))[:, None]
    biggest = np.abs(components).argmax(axis=1)
    signs = np.sign(components[np.arange(2), biggest])
    return Basis(mean=mean, components=components * np.where(signs == 0, 1.0, signs)[:, None])


def umap_available() -> bool:
    return importlib.util.find_spec("umap") is not None


def umap_layout(anchors: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """(m, 2) UMAP coordinates of the anchor vectors (cosine metric), deterministic for a seed."""
    import umap  # optional: see umap_available()

    reducer = umap.UMAP(
        n_components=2, n_neighbors=min(15, len(anchors) - 1), metric="cosine", random_state=seed, init="spectral"
    )
    return np.asarray(reducer.fit_transform(unit_rows(anchors)), dtype=np.float64)


def place_by_neighbours(
    vectors: np.ndarray, anchors: np.ndarray, anchor_xy: np.ndarray, *, k: int = NEIGHBOURS
) -> np.ndarray:
    """(n, 2): each vector at the inverse-distance weighted mean of its k nearest anchors' map
    coordinates (cosine distance). An anchor lands on its own place (up to 1e-6 relative)."""
    anchors = unit_rows(anchors).astype(np.float32)  # float32 halves the time; plenty for a map
    k = min(k, len(anchors))
    out = np.empty((len(vectors), 2))
    for start in range(0, len(vectors), PLACE_CHUNK_ROWS):
        rows = unit_rows(vectors[start : start + PLACE_CHUNK_ROWS]).astype(np.float32)
        similarities = rows @ anchors.T
        nearest = np.argpartition(similarities, -k, axis=1)[:, -k:]  # the k most similar
        distances = np.clip(1.0 - np.take_along_axis(similarities, nearest, axis=1).astype(np.float64), 0.0, 2.0)
        weights = 1.0 / (distances + 1e-9)
        weights /= weights.sum(axis=1, keepdims=True)
        out[start : start + len(rows)] = np.einsum("nk,nkc->nc", weights, anchor_xy[nearest])
    return out
