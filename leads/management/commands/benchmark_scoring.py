"""Time the pure kNN scorer against scikit-learn on the same vectors, in one run.

    python manage.py benchmark_scoring --candidates 1000000 --labels 1000

Vectors are clustered like real embeddings (topics plus noise) so that near-ties
are rare and both sides pick the same neighbours.
"""

import resource
import time

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand

from leads.scoring import knn_scores


def clustered_vectors(rng: np.random.Generator, n: int, dims: int, topics: np.ndarray) -> np.ndarray:
    vectors = topics[rng.integers(len(topics), size=n)] + 0.35 * rng.standard_normal((n, dims), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class Command(BaseCommand):
    help = "Benchmark the kNN scorer against sklearn KNeighborsRegressor(weights='distance', metric='cosine')."

    def add_arguments(self, parser):
        parser.add_argument("--candidates", type=int, default=200_000)
        parser.add_argument("--labels", type=int, default=1_000)
        parser.add_argument("--k", type=int, default=settings.SCORING_K)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, candidates, labels, k, seed, **options):
        from sklearn.neighbors import KNeighborsRegressor

        dims = settings.EMBEDDING_DIMENSIONS
        rng = np.random.default_rng(seed)
        topics = rng.standard_normal((200, dims), dtype=np.float32) / np.sqrt(dims)
        unlabelled = clustered_vectors(rng, candidates, dims, topics)
        labelled = clustered_vectors(rng, labels, dims, topics)
        verdicts = rng.choice([-1.0, 1.0], size=labels)

        started = time.perf_counter()
        ours = knn_scores(unlabelled, labelled, verdicts, k)
        ours_seconds = time.perf_counter() - started

        started = time.perf_counter()
        regressor = KNeighborsRegressor(
            n_neighbors=min(k, labels), weights="distance", metric="cosine", algorithm="brute"
        )
        reference = regressor.fit(labelled, verdicts).predict(unlabelled)
        sklearn_seconds = time.perf_counter() - started

        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stdout.write(f"{candidates:,} companies x {labels:,} labels x {dims} dims, k={k}")
        self.stdout.write(
            f"  leads.scoring.knn_scores : {ours_seconds:7.2f} s  ({candidates / ours_seconds:,.0f} companies/s)"
        )
        self.stdout.write(f"  sklearn brute            : {sklearn_seconds:7.2f} s")
        self.stdout.write(f"  speed-up                 : {sklearn_seconds / ours_seconds:7.2f}x")
        self.stdout.write(f"  max |ours - sklearn|     : {np.max(np.abs(ours.values - reference)):.2e}")
        self.stdout.write(f"  peak RSS                 : {peak_mb:,.0f} MB")
