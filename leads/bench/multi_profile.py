"""`bench_scoring --profiles P`: issue #28's scale target, several ideal-customer profiles in one run.

The first profile's figures are measured first, as without --profiles (that profile alone). Then
P - 1 more profiles get L labels each, drawn independently (other companies, another notion of
fit: copies.profile_verdicts), through the labels service, and a full rescore each; then, in order:

1. the in-memory thresholds (scoring.thresholds: one float32 array a profile, made by the first
   pass of that profile in this process): what is held once every profile is scored, then after
   a pass in one profile, two, ... every one;
2. label changes in each profile in turn, timed as without --profiles (measure.incremental), while
   another thread, on its own database connection, gives verdicts in the other profiles at a
   steady rate, each followed by its profile's pass: the other profiles' reps keep labelling;
3. every profile's scores against a full rescore of it (the incremental passes of both threads
   were exact), which also times a full rescore with every other profile's scores present;
4. the pages the benchmark times, in the last profile (`?profile=<id>`);
5. leads_score on disk: rows and bytes per profile (its own partition), as left by the passes and compacted.

In memory, after the first profile's baselines: the numpy floor of the last profile, whose first
full rescore ran with every other profile's scores present (its ratio)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection, connections

from leads.bench import baselines, copies, measure
from leads.bench.base import BaseSet
from leads.models import Company, LabelSource, Profile, Score, Verdict
from leads.profiles import selectors as profiles
from leads.scoring import labels, reads, thresholds
from leads.scoring import services as scores

PROFILE_NAME = "Bench profile {}"
KINDS = ("like", "flip", "clear")


def database_path(
    *,
    base: BaseSet,
    companies: int,
    labels_count: int,
    profiles_count: int,
    seed: int,
    changes: int,
    requests: int,
    other_verdict_every: float,
    log: Callable[[str], None],
) -> dict:
    user = get_user_model().objects.get(username="bench")
    rng = np.random.default_rng([seed, 5])
    first = profiles.current_id()
    ids = [first]
    by_profile: dict[int, dict] = {first: {"labels": min(labels_count, companies)}}
    for number in range(2, profiles_count + 1):
        profile = Profile.objects.create(name=PROFILE_NAME.format(number))
        verdicts = copies.profile_verdicts(base, companies, labels_count, seed, number)
        labels.label_companies(profile_id=profile.pk, verdicts=verdicts, user=user, source=LabelSource.IMPORT)
        log(f"profile {profile.pk}: full rescore against its {len(verdicts):,} labels, {len(ids)} other(s) scored")
        before = _score_bytes()
        rescore = measure.full_rescore(profile.pk)
        by_profile[profile.pk] = {
            "labels": len(verdicts),
            "first_full_rescore_s": rescore["full_rescore_s"],
            "first_full_rescore_phases": rescore["full_rescore_phases"],
            "scored": rescore["scored"],
            "other_profiles_scored": len(ids),
            "score_bytes_written": _score_bytes() - before,
        }
        ids.append(profile.pk)
    with connection.cursor() as cursor:
        cursor.execute("vacuum (analyze) leads_score")  # as after the first profile's rescore; not timed
    log("in-memory thresholds: a pass in one profile, then two, ...")
    memory = thresholds_memory(rng, ids, user)
    log(f"{changes} label changes of each kind in each profile, the others labelling every {other_verdict_every} s")
    for number, profile_id in enumerate(ids):
        by_profile[profile_id] |= while_others_label(
            rng, profile_id, [p for p in ids if p != profile_id], user, changes, other_verdict_every, [seed, 6, number]
        )
    memory["after_labelling"] = _held_total(ids)
    log("every profile's scores against a full rescore of it")
    for profile_id in ids:
        check = measure.incremental_matches_full(profile_id)
        by_profile[profile_id] |= {key: check[key] for key in ("incremental_matches_full", "incremental_mismatches")}
        by_profile[profile_id]["full_rescore_again_s"] = check["full_rescore_again_s"]
    last = ids[-1]
    log(f"pages in profile {last}: {requests} requests each")
    pages = profile_pages(rng, requests, user, measure.search_words(base.names, base.descriptions), last)
    log("leads_score on disk, per profile (VACUUM FULL for the compacted size)")
    each, disk = score_disk(ids)
    for profile_id in ids:
        by_profile[profile_id] |= each[profile_id]
        by_profile[profile_id]["thresholds_copy_bytes"] = memory["bytes_per_copy"].get(profile_id)
    return {
        "profiles": profiles_count,
        "by_profile": by_profile,
        "profiles_worst": {
            "incremental_p95_s": max(by_profile[p]["incremental_p95_s"] for p in ids),
            "incremental_max_s": max(by_profile[p]["incremental_max_s"] for p in ids),
            "incremental_matches_full": all(by_profile[p]["incremental_matches_full"] for p in ids),
            "first_full_rescore_s": max(by_profile[p]["first_full_rescore_s"] for p in ids[1:]),
            "full_rescore_again_s": max(by_profile[p]["full_rescore_again_s"] for p in ids),
            "page": pages["worst_page"],
            "page_p95_ms": pages["worst_p95_ms"],
        },
        "profile_full_rescore": {
            "profile_id": last,
            "other_profiles_scored": by_profile[last]["other_profiles_scored"],
            "full_rescore_s": by_profile[last]["first_full_rescore_s"],
            "full_rescore_again_s": by_profile[last]["full_rescore_again_s"],
        },
        "profile_pages": pages,
        "thresholds_memory": memory,
        "score_disk": disk,
    }


def in_memory(figures: dict, k: int, repeats: int, log: Callable[[str], None]) -> None:
    """The numpy floor of the profile whose full rescore `figures["profile_full_rescore"]` timed (on
    its own candidates and labelled set, read back), and the ratios to it; the worst ratio too."""
    full = figures["profile_full_rescore"]
    profile_id = full["profile_id"]
    log(f"in memory: numpy floor of profile {profile_id} (best of {repeats})")
    labelled = reads.load_labelled_set(profile_id)
    candidate_ids, candidates = baselines.read_candidates(profile_id)
    stored_ids, stored_values = baselines.stored_scores(profile_id)
    if not np.array_equal(candidate_ids, stored_ids):
        raise RuntimeError(f"profile {profile_id}: the scored companies are not the companies to score")
    floor_s, floor_values = baselines.best_of(repeats, baselines.numpy_floor, candidates, labelled, k)
    full["numpy_floor_s"] = floor_s
    full["max_abs_diff_floor_vs_db"] = float(np.max(np.abs(stored_values - floor_values), initial=0.0))
    full["ratio_full_to_floor"] = full["full_rescore_s"] / floor_s
    full["ratio_again_to_floor"] = full["full_rescore_again_s"] / floor_s
    figures["profiles_worst"]["ratio_full_to_floor"] = full["ratio_full_to_floor"]


# --- The in-memory thresholds ------------------------------------------------------------------


def thresholds_memory(rng: np.random.Generator, ids: list[int], user) -> dict:
    """What this process holds for scoring.thresholds: every profile scored (no pass since the full
    rescores but the first profile's), then the copies dropped and a like with its pass in one
    profile, two, ... every one: the bytes grow by the profiles passed through."""
    figures = {"after_full_rescores": {"profiles_scored": len(ids), **_held_total(ids)}}
    thresholds.forget()
    steps = []
    for count, profile_id in enumerate(ids, 1):
        current = dict(Company.objects.in_profile(profile_id).labelled(profile_id).values_list("pk", "verdict"))
        _verdict(rng, profile_id, user, "like", current, Company.objects.count())
        steps.append({"profiles_passed": count, **_held_total(ids)})
    figures["by_profiles_passed"] = steps
    figures["bytes_per_copy"] = _held(ids)
    figures["grows_by_profiles_passed"] = all(
        step["profiles"] == ids[: step["profiles_passed"]]
        and step["bytes"] == sum(figures["bytes_per_copy"][p] for p in step["profiles"])
        for step in steps
    )
    return figures


def _held(ids: list[int]) -> dict[int, int]:
    """Bytes of each profile's copy held now (scoring.thresholds keeps them in a module dict)."""
    copies_now = dict(thresholds._copies)  # read-only: the benchmark measures, the service owns it
    return {profile_id: int(copies_now[profile_id][1].nbytes) for profile_id in ids if profile_id in copies_now}


def _held_total(ids: list[int]) -> dict:
    held = _held(ids)
    return {"copies": len(held), "profiles": sorted(held), "bytes": sum(held.values())}


# --- Label changes while the other profiles' reps label -------------------------------------


def while_others_label(
    rng: np.random.Generator, profile_id: int, others: list[int], user, changes: int, every: float, seed: list[int]
) -> dict:
    """measure.incremental in `profile_id` while OtherReps labels in `others`: the same figures,
    and what the other reps did meanwhile (`others`)."""
    reps = OtherReps(others, user, every, np.random.default_rng(seed))
    reps.start()
    reps.first.wait()  # the timed changes start with the other reps at work
    try:
        timed = measure.incremental(rng, changes, user, profile_id)
    finally:
        reps.stop()
    keys = ("incremental_p50_s", "incremental_p95_s", "incremental_max_s", "incremental_mean_rescored")
    return {key: timed[key] for key in keys} | {
        "incremental_by_kind": timed["incremental_by_kind"],
        "incremental_mean_phases": timed["incremental_mean_phases"],
        "others": reps.figures(),
    }


class OtherReps(threading.Thread):
    """The other profiles' reps: a verdict every `every` seconds (the next one at once when a pass
    took longer: no burst to catch up), in each of `profiles` in turn, likes, flips and clears in
    turn, each followed by its profile's pass (`scores.apply_label_changes`), on this thread's own
    database connection. Its passes are not counted in the timed changes' phases."""

    def __init__(self, profile_ids: list[int], user, every: float, rng: np.random.Generator):
        super().__init__(name="bench-other-reps", daemon=True)
        self.profile_ids, self.user, self.every, self.rng = profile_ids, user, every, rng
        self.first = threading.Event()  # set once the first verdict's pass is done (or the thread failed)
        self._stopping = threading.Event()
        self.timings: list[float] = []
        self.rescored: list[int] = []
        self.seconds = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        measure.untimed_thread()
        started = time.perf_counter()
        try:
            current = {
                p: dict(Company.objects.in_profile(p).labelled(p).values_list("pk", "verdict"))
                for p in self.profile_ids
            }
            companies = Company.objects.count()
            next_at = time.perf_counter()
            number = 0
            while not self._stopping.is_set():
                profile_id = self.profile_ids[number % len(self.profile_ids)]
                kind = KINDS[(number // len(self.profile_ids)) % len(KINDS)]
                seconds, count = _verdict(self.rng, profile_id, self.user, kind, current[profile_id], companies)
                self.timings.append(seconds)
                self.rescored.append(count)
                self.first.set()
                number += 1
                next_at = max(next_at + self.every, time.perf_counter())
                self._stopping.wait(max(0.0, next_at - time.perf_counter()))
        except BaseException as error:  # reported by stop(), in the main thread
            self.error = error
        finally:
            self.seconds = time.perf_counter() - started
            self.first.set()
            connections.close_all()  # this thread's own connection

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        if self.error is not None:
            raise RuntimeError(f"the other profiles' verdicts failed: {self.error!r}") from self.error

    def figures(self) -> dict:
        timings = measure.percentiles(self.timings) if self.timings else {"p50": None, "p95": None, "max": None}
        return {
            "profiles": self.profile_ids,
            "every_s": self.every,
            "verdicts": len(self.timings),
            "per_s": len(self.timings) / self.seconds if self.seconds else None,
            "verdict_to_scores_p50_s": timings["p50"],
            "verdict_to_scores_p95_s": timings["p95"],
            "verdict_to_scores_max_s": timings["max"],
            "mean_rescored": float(np.mean(self.rescored)) if self.rescored else None,
        }


def _verdict(rng: np.random.Generator, profile_id: int, user, kind: str, current: dict, companies: int):
    """One rep's verdict of `kind` in the profile (a like of an unlabelled company, a flip or a
    clear of a labelled one; a like when none is labelled), then its pass; `current` (company:
    verdict) follows. Returns (seconds from the verdict to its changed scores, scores rewritten)."""
    if kind == "like" or not current:
        pk, verdict = measure.unlabelled_company(rng, companies, current), Verdict.LIKE
    else:
        pk = int(rng.choice(sorted(current)))
        verdict = Verdict.CLEAR if kind == "clear" else measure.flipped(current[pk])
    company = Company.objects.get(pk=pk)
    started = time.perf_counter()
    labels.label_company(profile_id=profile_id, company=company, user=user, verdict=verdict, source=LabelSource.CLICK)
    count = scores.apply_label_changes(profile_id)
    seconds = time.perf_counter() - started
    if verdict == Verdict.CLEAR:
        del current[pk]
    else:
        current[pk] = verdict.value
    return seconds, count


# --- Pages in another profile -------------------------------------------------------------------


def profile_pages(rng: np.random.Generator, requests: int, user, search_words: list[str], profile_id: int) -> dict:
    """The pages measure.pages and map_figures time (the map placed already), each with
    `?profile=<id>`; the company pages of companies scored there, the HNSW index in memory by now."""
    paths = measure.page_paths(rng, requests, search_words, profile_id)
    paths["company_page"] = paths.pop("company_page_cold")
    paths |= {page: [measure.in_profile(path, profile_id)] * (requests + 3) for page, path in measure.MAP_PAGES.items()}
    results = measure.time_pages(user, paths)
    p95 = {page: result["p95"] for page, result in results.items()}
    after_a_pass = measure.dashboard_after_a_pass(requests, user, profile_id)
    p95["dashboard_after_a_pass"] = after_a_pass["dashboard_after_a_pass_p95_ms"]
    worst = max(p95, key=p95.get)
    return {
        "profile_id": profile_id,
        "dashboard_p95_ms": p95["dashboard"],
        "search_p95_ms": p95["search"],
        "company_page_p95_ms": p95["company_page"],
        "worst_page": worst,
        "worst_p95_ms": p95[worst],
        "pages_ms": {page: {"p50": r["p50"], "p95": r["p95"]} for page, r in results.items()},
        **after_a_pass,
    }


# --- leads_score on disk --------------------------------------------------------------------------


def _score_bytes() -> int:
    """Every profile's scores on disk (the partitions of leads_score: the parent holds no rows)."""
    with connection.cursor() as cursor:
        cursor.execute("select sum(pg_total_relation_size(relid)) from pg_partition_tree('leads_score') where isleaf")
        return int(cursor.fetchone()[0] or 0)


def _relation_sizes(table: str) -> dict:
    """A score table's heap (main fork), table (heap, TOAST, free space and visibility maps),
    each index and the total, in bytes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select pg_relation_size(%s::regclass), pg_table_size(%s::regclass), pg_indexes_size(%s::regclass),"
            " pg_total_relation_size(%s::regclass)",
            [table] * 4,
        )
        heap, table_bytes, indexes, total = (int(value) for value in cursor.fetchone())
        cursor.execute(
            "select indexrelid::regclass::text, pg_relation_size(indexrelid) from pg_index"
            " where indrelid = %s::regclass order by 1",
            [table],
        )
        each = {name: int(size) for name, size in cursor.fetchall()}
    return {"heap": heap, "table": table_bytes, "indexes": indexes, "index_bytes": each, "total": total}


def _summed(sizes: list[dict]) -> dict:
    keys = ("heap", "table", "indexes", "total")
    return {key: sum(size[key] for size in sizes) for key in keys}


def score_disk(ids: list[int]) -> tuple[dict[int, dict], dict]:
    """Each profile's scores on disk (its own partition of leads_score) as the passes left them
    (after a plain VACUUM: dead rows' space kept for reuse) and compacted (VACUUM FULL: every row
    written once, indexes rebuilt); its rows and their bytes (pg_column_size of each row); what
    10 profiles would take. Returns (per profile id, the figures of all of them)."""
    each: dict[int, dict] = {}
    as_is, compacted = [], []
    with connection.cursor() as cursor:
        for profile_id in ids:
            table = Score.partition(profile_id)
            cursor.execute(f"vacuum (analyze) {table}")  # a name made from an integer, never input
            before = _relation_sizes(table)
            cursor.execute(f"select count(*), coalesce(sum(pg_column_size(s.*)), 0) from {table} s")
            count, size = (int(value) for value in cursor.fetchone())
            cursor.execute(f"vacuum (full, analyze) {table}")
            after = _relation_sizes(table)
            as_is.append(before)
            compacted.append(after)
            each[profile_id] = {
                "score_rows": count,
                "score_row_bytes": size,
                "score_bytes_as_is": before["total"],
                "score_bytes_compacted": after["total"],
                "table": table,
                "as_is": before,
                "compacted": after,
            }
    total_rows = sum(each[p]["score_rows"] for p in ids) or 1
    per_profile = max(each[p]["score_bytes_compacted"] for p in ids)
    per_profile_as_is = max(each[p]["score_bytes_as_is"] for p in ids)
    return each, {
        "rows": total_rows,
        "avg_row_bytes": sum(each[p]["score_row_bytes"] for p in ids) / total_rows,
        "as_is": _summed(as_is),
        "compacted": _summed(compacted),
        "bytes_per_profile": per_profile,
        "bytes_per_profile_as_is": per_profile_as_is,
        "at_10_profiles_bytes": 10 * per_profile,
        "at_10_profiles_as_is_bytes": 10 * per_profile_as_is,
    }
