"""Timings through the real services, pages and queries, against the benchmark database."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings

from leads.companies import nearest
from leads.embedding import active
from leads.map import services as maps
from leads.models import Company, LabelSource, Verdict
from leads.profiles import selectors as profiles
from leads.scoring import incremental, labels, vector_copy
from leads.scoring import knn as scoring
from leads.scoring import rows as score_rows
from leads.scoring import services as scores


def percentiles(seconds: list[float], scale: float = 1.0) -> dict:
    values = np.asarray(seconds) * scale
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "max": float(values.max()),
    }


# --- The full rescore, with where its time goes --------------------------------------------


PHASES = [
    (scores, "load_labelled_set", "load_labelled_s"),
    (incremental, "affected_by", "find_affected_s"),
    (scores, "read_candidates", "read_vectors_s"),
    (scoring, "knn_scores", "knn_s"),
    (score_rows, "write_scores", "write_scores_s"),
]


_untimed = threading.local()


def untimed_thread() -> None:
    """The calling thread's phases are not counted by `profiled` (another profile's reps, labelling
    beside the timed changes: their passes run the same wrapped functions)."""
    _untimed.on = True


@contextlib.contextmanager
def profiled(totals: dict[str, float]) -> Iterator[None]:
    """Add the run time of each phase of a rescore to totals[phase] while the block runs, by
    wrapping the service's own functions (instrumentation only: the code run is the same)."""
    originals = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, _ in PHASES]

    def timed(function, phase):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                if not getattr(_untimed, "on", False):
                    totals[phase] += time.perf_counter() - started

        return wrapper

    for (owner, attribute, phase), (_, _, function) in zip(PHASES, originals):
        setattr(owner, attribute, timed(function, phase))
    try:
        yield
    finally:
        for owner, attribute, function in originals:
            setattr(owner, attribute, function)


def full_rescore(profile_id: int | None = None) -> dict:
    """`scores.rescore_all()` of a profile (the first one by default: every label the benchmark gives
    without --profiles is there), database to database, and its phases: loading the labelled set
    (once per chunk), reading candidate vectors (binary COPY), the kNN maths, writing scores
    (binary COPY + upsert); `other_s` is the rest (chunk ranges, deleting the scores of companies
    no longer to score, locks, commits)."""
    totals: dict[str, float] = defaultdict(float)
    with profiled(totals):
        started = time.perf_counter()
        scored = scores.rescore_all(profiles.current_id() if profile_id is None else profile_id)
        total = time.perf_counter() - started
    phases = {phase: totals[phase] for _, _, phase in PHASES if phase != "find_affected_s"}
    phases["other_s"] = total - sum(phases.values())
    return {"full_rescore_s": total, "scored": scored, "full_rescore_phases": phases}


# --- Single label changes: the incremental rescore ---------------------------------------------


def incremental(rng: np.random.Generator, changes: int, user, profile_id: int | None = None) -> dict:
    """`changes` label changes of each kind, interleaved: a like on an unlabelled company, a
    flip of a labelled one, a clear of a labelled one. Each is timed from the label's service
    call (committed) to `apply_label_changes()` returning, that is every changed score written.
    The mean phases say where a change's time goes: the label's transaction, then the pass's.
    All in one profile, the first one by default. The worker's copy of the vectors
    (scoring.vector_copy) is read or brought up to date first, as a worker that has run a pass
    holds it: `vector_copy_load_s`, untimed in the changes."""
    profile_id = profiles.current_id() if profile_id is None else profile_id
    started = time.perf_counter()
    if settings.SCORING_VECTORS_IN_MEMORY:
        vector_copy.warm(active.model_name())
    copy_load_s = time.perf_counter() - started
    current = dict(Company.objects.in_profile(profile_id).labelled(profile_id).values_list("pk", "verdict"))
    companies = Company.objects.count()
    timings: dict[str, list[float]] = defaultdict(list)
    rescored: dict[str, list[int]] = defaultdict(list)
    totals: dict[str, float] = defaultdict(float)
    slowest: list[dict] = []
    for _ in range(changes):
        for kind in ("like", "flip", "clear"):
            if kind == "like":
                pk = unlabelled_company(rng, companies, current)
                verdict = Verdict.LIKE
            else:
                pk = int(rng.choice(sorted(current)))
                verdict = Verdict.CLEAR if kind == "clear" else flipped(current[pk])
            company = Company.objects.get(pk=pk)
            with profiled(totals):
                started = time.perf_counter()
                labels.label_company(
                    profile_id=profile_id, company=company, user=user, verdict=verdict, source=LabelSource.CLICK
                )
                saved = time.perf_counter()
                count = scores.apply_label_changes(profile_id)
                done = time.perf_counter()
            totals["label_company_s"] += saved - started
            timings[kind].append(done - started)
            rescored[kind].append(count)
            slowest.append({"kind": kind, "s": round(done - started, 3), "rescored": count})
            if verdict == Verdict.CLEAR:
                del current[pk]
            else:
                current[pk] = verdict.value
    every = [t for kind in timings for t in timings[kind]]
    overall = percentiles(every)
    phases = {phase: totals[phase] / len(every) for phase in ["label_company_s", *(p for _, _, p in PHASES)]}
    phases["other_s"] = float(np.mean(every)) - sum(phases.values())
    return {
        "incremental_p50_s": overall["p50"],
        "incremental_p95_s": overall["p95"],
        "incremental_max_s": overall["max"],
        "incremental_mean_rescored": float(np.mean([c for kind in rescored for c in rescored[kind]])),
        "incremental_by_kind": {
            kind: {
                **{f"{name}_s": value for name, value in percentiles(timings[kind]).items()},
                "mean_rescored": float(np.mean(rescored[kind])),
            }
            for kind in timings
        },
        "incremental_mean_phases": phases,
        "incremental_slowest": sorted(slowest, key=lambda change: -change["s"])[:5],
        "vector_copy_load_s": copy_load_s,
        "vector_copy_bytes": vector_copy.held_bytes(),
    }


def unlabelled_company(rng: np.random.Generator, companies: int, labelled: dict) -> int:
    while True:
        pk = int(rng.integers(1, companies + 1))
        if pk not in labelled:
            return pk


def flipped(verdict: str) -> Verdict:
    return Verdict.DISLIKE if verdict == Verdict.LIKE else Verdict.LIKE


def incremental_matches_full(profile_id: int | None = None) -> dict:
    """Snapshot every score of a profile (the first by default; in SQL: no Python object per row), run
    its full rescore, compare:
    the same companies scored, with the same neighbours, values and fits (within 1e-6), evidence
    and flags. This second full rescore runs over existing scores (the steady state), unlike the
    first, into an empty table."""
    with connection.cursor() as cursor:
        profile_id = profiles.current_id() if profile_id is None else profile_id
        cursor.execute(
            "create temp table bench_before as select company_id, value, fit, evidence, unexplored, supported,"
            " neighbour_ids from leads_score where profile_id = %s",
            [profile_id],
        )
        again = full_rescore(profile_id)
        cursor.execute(
            "select count(*) from bench_before b full join (select * from leads_score where profile_id = %s) s"
            " using (company_id)"
            " where b.company_id is null or s.company_id is null or b.neighbour_ids <> s.neighbour_ids"
            " or abs(b.value - s.value) > 1e-6 or abs(b.fit - s.fit) > 1e-6 or abs(b.evidence - s.evidence) > 1e-6"
            " or b.unexplored <> s.unexplored or b.supported <> s.supported",
            [profile_id],
        )
        (mismatches,) = cursor.fetchone()
        cursor.execute("drop table bench_before")
    return {
        "incremental_matches_full": mismatches == 0,
        "incremental_mismatches": mismatches,
        "full_rescore_again_s": again["full_rescore_s"],
        "full_rescore_again_phases": again["full_rescore_phases"],
    }


# --- Pages ----------------------------------------------------------------------------


def pages(rng: np.random.Generator, requests: int, user, search_words: list[str]) -> dict:
    """p50/p95 of each page through Django's test client (one kept connection, no network),
    `requests` timed requests after 3 warm-up ones. The company pages are of random companies,
    their part of the HNSW index (similar companies) possibly not in memory yet: "cold" (see
    company_pages_warm for the figure the target is on)."""
    results = time_pages(user, page_paths(rng, requests, search_words))
    return {
        "dashboard_p95_ms": results["dashboard"]["p95"],
        "search_p95_ms": results["search"]["p95"],
        "search_by_meaning_p95_ms": results["search_by_meaning"]["p95"],
        "dashboard_sorted_p95_ms": {ordering: results[f"dashboard_{ordering}"]["p95"] for ordering in SORTED_PAGES},
        "dashboard_numbers_p95_ms": results["dashboard_numbers"]["p95"],
        "company_page_cold_p95_ms": results["company_page_cold"]["p95"],
        "dashboard_filters_p95_ms": {
            show: results[f"dashboard_{show}"]["p95"] for show in ("unlabelled", "liked", "disliked")
        },
        "pages_ms": {page: {"p50": r["p50"], "p95": r["p95"]} for page, r in results.items()},
        "search_words": search_words,
        "search_matches": {word: Company.objects.search(word).count() for word in search_words},
    }


def page_paths(
    rng: np.random.Generator, requests: int, search_words: list[str], profile_id: int | None = None
) -> dict[str, list[str]]:
    """The paths `pages` requests, page by page (3 warm-up ones first); with `profile_id`, each
    with `profile=<id>` (the profile the page works in) and the company pages of companies scored there."""
    paths = {
        "dashboard": ["/"] * (requests + 3),
        "dashboard_unlabelled": ["/?show=unlabelled"] * (requests + 3),
        "dashboard_liked": ["/?show=liked"] * (requests + 3),
        "dashboard_disliked": ["/?show=disliked"] * (requests + 3),
        # The commonest words, each in turn: the searches that match the most companies.
        "search": [f"/?q={search_words[i % len(search_words)]}" for i in range(requests + 3)],
        # Search by meaning: two of the commonest words as a description (the encoder loads in warm-up).
        "search_by_meaning": [
            f"/?about={search_words[i % len(search_words)]}+{search_words[(i + 1) % len(search_words)]}"
            for i in range(requests + 3)
        ],
        **{f"dashboard_{ordering}": [f"/?ordering={ordering}"] * (requests + 3) for ordering in SORTED_PAGES},
        # The number filters (database.NUMBERS_SHARE of the companies have numbers), best fit first.
        "dashboard_numbers": [NUMBERS_PAGE] * (requests + 3),
        "company_page_cold": company_paths(rng, requests, profile_id),
    }
    if profile_id is None:
        return paths
    return {page: [in_profile(path, profile_id) for path in each] for page, each in paths.items()}


def in_profile(path: str, profile_id: int) -> str:
    """`path` in the profile: `?profile=<id>` added to its query."""
    return f"{path}{'&' if '?' in path else '?'}profile={profile_id}"


def time_pages(user, paths: dict[str, list[str]]) -> dict[str, dict]:
    """p50/p95/max (ms) of each page's paths, the first 3 untimed, through one logged-in test client."""
    client = _client(user)
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        return {page: _time_requests(client, each) for page, each in paths.items()}


# The dashboard's orders other than best fit first (orderings.ORDERINGS), each a top-N sort.
SORTED_PAGES = ("name", "-industry", "fit", "-verdict", "-employees")
NUMBERS_PAGE = "/?employees_min=50&employees_max=500&founded_min=2010"


def company_pages_warm(rng: np.random.Generator, requests: int, user) -> dict:
    """Company pages of other random companies once the HNSW index is in memory (as on a
    server in use; `database.warm_vector_index`): the figure the target is on."""
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        result = _time_requests(_client(user), company_paths(rng, requests))
    return {"company_page_p95_ms": result["p95"], "company_page_ms": {"p50": result["p50"], "p95": result["p95"]}}


def map_figures(requests: int, user) -> dict:
    """ "Companies in space" at N: placing every company on the map from scratch (the background
    task: fit a projection, place N points), then the map's JSON (at most MAX_POINTS points, the
    labelled ones and a fixed sample) and its page, timed like the other pages; and the JSON built
    again each time (`map_points_rebuilt_p95_ms`: its cache's key moved before each request, as a
    verdict or a rename moves it; a rescore also makes the distribution of fits anew)."""
    run = maps.compute_map(refit=True)
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        client = _client(user)
        points = client.get("/map/points.json").json()
        results = {page: _time_requests(client, [path] * (requests + 3)) for page, path in MAP_PAGES.items()}
        rebuilt = _time_requests(client, [MAP_PAGES["map_points"]] * (requests + 3), before=_company_written)
    return {
        "map_compute_s": run.seconds if run else None,
        "map_placed": run.placed if run else None,
        "map_points_shown": points["shown"],
        "map_points_p95_ms": results["map_points"]["p95"],
        "map_points_rebuilt_p95_ms": rebuilt["p95"],
        "map_page_p95_ms": results["map_page"]["p95"],
    }


def dashboard_after_a_pass(requests: int, user, profile_id: int) -> dict:
    """The dashboard right after each of `requests` passes in its profile: the profile's scores
    marked written before each request, as a pass's commit marks them (scoring.rows.scores_written),
    with the worker's distribution of fits kept (scoring.services.keep_distribution, made once
    first, as the worker makes it on a page's first ask). A big profile's page then shows that
    one and asks the worker for a new one, instead of sorting every fit itself."""
    scores.keep_distribution(profile_id)
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        result = _time_requests(
            _client(user),
            [in_profile("/", profile_id)] * (requests + 3),
            before=lambda: score_rows.scores_written([profile_id]),
        )
    scores.keep_distribution(profile_id)  # current again, as the worker leaves it, for what is timed next
    return {"dashboard_after_a_pass_p95_ms": result["p95"], "dashboard_after_a_pass_p50_ms": result["p50"]}


def _company_written() -> None:
    """What any write to the companies or verdicts does to the map's cached points (migration 0048)."""
    with connection.cursor() as cursor:
        cursor.execute("select nextval('leads_company_version')")


MAP_PAGES = {"map_points": "/map/points.json", "map_page": "/map/"}


def _client(user) -> Client:
    client = Client(raise_request_exception=True)
    client.force_login(user)
    return client


def company_paths(rng: np.random.Generator, requests: int, profile_id: int | None = None) -> list[str]:
    """Pages of random companies scored in the profile (the first by default), 3 warm-up ones first."""
    profile_id = profiles.current_id() if profile_id is None else profile_id
    scored = Company.objects.in_profile(profile_id).filter(score__isnull=False)
    scored = list(scored.values_list("pk", flat=True)[:100_000])
    return [f"/companies/{pk}/" for pk in rng.choice(scored, size=requests + 3, replace=len(scored) < requests + 3)]


def _time_requests(client: Client, paths: list[str], before: Callable[[], None] | None = None) -> dict:
    timings = []
    for number, path in enumerate(paths):
        if before:
            before()
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code}")
        if number >= 3:
            timings.append(elapsed)
    return percentiles(timings, scale=1000)


# --- Similar companies (the HNSW index) -------------------------------------------------------


def similar(rng: np.random.Generator, queries: int) -> dict | None:
    """Time `nearest.similar_companies` for `queries` random companies, all and unlabelled only.

    Each query runs twice: the first time ("cold") the pages of the HNSW graph around that
    company may still be on disk or in the OS cache, not in Postgres's shared buffers; the second
    time ("warm") they are, as on a server in use, where reps keep the graph in memory. The
    target is on the warm figure; both are reported. Returns None while the selector does not
    exist; the found ids go to the recall check."""
    find = getattr(nearest, "similar_companies", None)
    if find is None:
        return None
    profile_id = profiles.current_id()  # unlabelled: in the first profile, where the benchmark labels
    ids = [int(pk) for pk in rng.choice(Company.objects.count(), size=queries + 3, replace=False) + 1]
    timings: dict[tuple[bool, bool], list[float]] = defaultdict(list)
    found: dict[bool, dict[int, list[int]]] = defaultdict(dict)
    for number, pk in enumerate(ids):
        company = Company.objects.get(pk=pk)
        for warm in (False, True):
            for unlabelled in (False, True):
                started = time.perf_counter()
                result = find(company, profile_id=profile_id, limit=10, unlabelled=unlabelled)
                elapsed = time.perf_counter() - started
                if number >= 3:
                    timings[warm, unlabelled].append(elapsed)
                    found[unlabelled][pk] = [similar.company.pk for similar in result]
    return {
        "similar_p95_ms": percentiles(timings[True, False] + timings[True, True], scale=1000)["p95"],
        "similar_ms": {
            "all": percentiles(timings[True, False], scale=1000),
            "unlabelled": percentiles(timings[True, True], scale=1000),
        },
        "similar_cold_ms": {
            "all": percentiles(timings[False, False], scale=1000),
            "unlabelled": percentiles(timings[False, True], scale=1000),
        },
        "found": found,
    }


def search_words(names: list[str], descriptions: list[str], count: int = 10) -> list[str]:
    """The commonest word of the base names (as the earlier runs searched), then the commonest
    words of five letters or more in the descriptions: the searches that match the most
    companies, correlated with the score or not."""
    return list(dict.fromkeys([*_commonest(names, 4, 1), *_commonest(descriptions, 5, count)]))[:count]


def _commonest(texts: list[str], shortest: int, count: int) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for text in texts:
        for word in {w.lower() for w in text.split() if len(w) >= shortest and w.isalpha()}:
            counts[word] += 1
    return sorted(counts, key=lambda word: (-counts[word], word))[:count] or ["company"]
