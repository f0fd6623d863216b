"""The benchmark behind `bench_import_clicks`: do a rep's verdicts keep their live updates while a
large import embeds, and what do they cost the import?

In one run, on its own database and Redis (as bench_embedding), with real workers set up as
`make run` sets them up (one on the bulk queue, one on the interactive queue only):

1. The team before the import: the source's real companies embedded and scored, `labels` of them
   labelled by their tags.
2. Clicks with nothing else running: click → changed scores, the baseline.
3. Imports of `companies` companies each (copies of the source's texts under new names, created
   as an import creates them, then `embeddings.queue_embedding`, the import's last step), one
   alone and one with a rep clicking every `click_every` seconds, alternating which comes first
   from round to round (alone, clicks | clicks, alone ...) so that a machine getting busier or
   quieter favours neither. Each import's companies are deleted after it, so every import meets
   the same team (the same HNSW index dropped and built again, the same companies to rescore). Each import's throughput counts from the queueing to its last stored
   vector; the HNSW index built after it is reported on its own.

A click is the labels service's verdict (what the dashboard's button calls) on a scored company
of the team; "changed scores" is the moment the label pass that took it committed its scores
(its pending row is deleted in the same transaction), looked up every 20 ms."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection

from leads.bench.database import bench_database
from leads.bench.embedding import (
    _create,
    _source_rows,
    _wait_for,
    _wait_for_an_empty_queue,
    own_broker,
    running_workers,
)
from leads.bench.measure import percentiles
from leads.companies import services as companies
from leads.embedding import active, hnsw
from leads.embedding import encoders as embedding
from leads.embedding import services as embeddings
from leads.models import Company, CompanyEmbedding, LabelSource, PendingScoreChange, Score
from leads.profiles import selectors as profiles
from leads.scoring import labels
from leads.scoring import services as scores

POLL_S = 0.02  # how often a click looks whether its scores changed
CLICK_TIMEOUT_S = 120


def run(
    *,
    companies: int,
    click_every: float,
    idle_clicks: int,
    labelled: int,
    rounds: int,
    seed: int,
    database_name: str,
    timeout_s: float,
    log: Callable[[str], None],
) -> dict:
    if companies < 1 or rounds < 1 or idle_clicks < 1 or click_every <= 0 or labelled < 2:
        raise CommandError(
            "--companies, --rounds and --idle-clicks must be at least 1, --labels at least 2, --click-every above 0"
        )
    source, rows = _source_rows()
    rng = np.random.default_rng(seed)
    figures: dict = {
        "source": source,
        "team_companies": len(rows),
        "companies": companies,
        "labels": labelled,
        "click_every_s": click_every,
        "rounds": rounds,
        "threads": embedding.threads(),
    }
    home = Path(settings.LEADS_HOME) / "bench" / "import_clicks"
    with own_broker(home), bench_database(database_name, fingerprint={}, reuse=False, keep=False):
        figures["model"] = active.model_name()
        figures["batch_size"] = active.batch_size()
        figures["bulk_window"] = settings.BULK_WINDOW
        rep = get_user_model().objects.create_user("bench-rep", password=None)
        team = _team(rows, labelled, rng, log)
        clickable = list(Score.objects.filter(profile_id=profiles.current_id()).values_list("company_id", flat=True))
        with running_workers(2, home, log, queues=["bulk", "interactive"]):
            warm = _create(
                [(name + " (warm)", *rest) for name, *rest in rows[:4]]
            )  # the bulk worker's first task loads its model: not timed
            embeddings.queue_embedding(warm)
            _wait_for(warm, True, timeout_s, "the warm-up batch")
            _wait_for_an_empty_queue(timeout_s)
            clicker = _Clicker(rep, team, clickable, rng)
            log(f"{idle_clicks} clicks with nothing else running")
            for _ in range(idle_clicks):
                clicker.click()
                time.sleep(0.2)
            figures["idle"] = percentiles(clicker.take())
            alone, during, index_s = [], [], []
            for number in range(rounds):
                order = (False, True) if number % 2 == 0 else (True, False)
                for with_clicks in order:
                    # The team's texts again under new names (each copy its own company: import i, copy c).
                    batch = number * 2 + with_clicks + 1
                    texts = [
                        (f"{rows[i % len(rows)][0]} ({batch}.{i // len(rows)})", *rows[i % len(rows)][1:])
                        for i in range(companies)
                    ]
                    ids = [pk for start in range(0, companies, 10_000) for pk in _create(texts[start : start + 10_000])]
                    log(f"round {number + 1}: {companies:,} companies {'with' if with_clicks else 'without'} clicks")
                    seconds, index = _import(ids, clicker if with_clicks else None, click_every, timeout_s)
                    (during if with_clicks else alone).append(seconds)
                    index_s.append(index)
                    if with_clicks:
                        figures.setdefault("clicks_during_import", []).extend(clicker.take())
                    log(f"  embedded in {seconds:.1f} s ({companies / seconds:.1f}/s), index after {index:.1f} s")
                    _wait_for_an_empty_queue(timeout_s)
                    _forget(ids)  # each import meets the same team (and drops and builds the index alike)
    clicks = figures.pop("clicks_during_import", [])
    if not clicks:
        raise CommandError("no click was made during the import: make --click-every shorter or --companies larger")
    figures["during_import"] = {**percentiles(clicks), "clicks": len(clicks)}
    figures["idle"]["clicks"] = idle_clicks
    figures["alone_s"], figures["with_clicks_s"] = alone, during
    figures["alone_per_s"] = companies * len(alone) / sum(alone)
    figures["with_clicks_per_s"] = companies * len(during) / sum(during)
    figures["slowdown"] = 1 - figures["with_clicks_per_s"] / figures["alone_per_s"]
    figures["index_build_s"] = index_s
    figures["targets_met"] = {
        "click_p95_within_2_s": figures["during_import"]["p95"] <= 2.0,
        "import_at_most_10_percent_slower": figures["slowdown"] <= 0.10,
    }
    return figures


def _team(rows: list[tuple], labelled: int, rng: np.random.Generator, log) -> dict[int, bool]:
    """The team's companies embedded here (the workers' own service) and scored, `labelled` of
    them labelled by their tags, half liked; returns each company's tag (liked or not)."""
    log(f"the team: {len(rows):,} companies embedded in this process")
    ids = _create(rows)
    batch = active.batch_size()
    for start in range(0, len(ids), batch):
        embeddings.embed_companies(ids[start : start + batch])
    liked = {pk: bool(row[4]) for pk, row in zip(ids, rows)}
    likes = [pk for pk in ids if liked[pk]]
    dislikes = [pk for pk in ids if not liked[pk]]
    half = labelled // 2
    chosen = list(rng.choice(likes, size=min(half, len(likes)), replace=False))
    chosen += list(rng.choice(dislikes, size=min(labelled - half, len(dislikes)), replace=False))
    verdicts = [(int(pk), "like" if liked[pk] else "dislike") for pk in chosen]
    profile_id = profiles.current_id()  # the team labels in the first profile
    labels.label_companies(profile_id=profile_id, verdicts=verdicts, user=None, source=LabelSource.IMPORT)
    scores.apply_label_changes(profile_id, inline_full=True)
    return liked


class _Clicker:
    """One rep clicking: a verdict on a scored company (its tag's verdict) in the first profile,
    then waiting for the label pass; a company is clicked once."""

    def __init__(self, rep, liked: dict[int, bool], clickable: list[int], rng: np.random.Generator):
        self.rep, self.liked, self.profile_id = rep, liked, profiles.current_id()
        self.order = [int(pk) for pk in rng.permutation(clickable)]
        self.seconds: list[float] = []

    def click(self) -> None:
        if not self.order:
            raise CommandError("every company of the team was clicked: ask for fewer clicks")
        company = Company.objects.get(pk=self.order.pop())
        verdict = "like" if self.liked[company.pk] else "dislike"
        started = time.monotonic()
        labels.label_company(
            profile_id=self.profile_id, company=company, user=self.rep, verdict=verdict, source=LabelSource.CLICK
        )
        pending = PendingScoreChange.objects.filter(profile_id=self.profile_id, company_id=company.pk)
        while pending.exists():
            if time.monotonic() - started > CLICK_TIMEOUT_S:
                raise CommandError(f"a verdict's scores did not change within {CLICK_TIMEOUT_S} s")
            time.sleep(POLL_S)
        self.seconds.append(time.monotonic() - started)

    def take(self) -> list[float]:
        taken, self.seconds = self.seconds, []
        return taken


def _import(ids: list[int], clicker: _Clicker | None, click_every: float, timeout_s: float) -> tuple[float, float]:
    """Queue the companies' embedding as an import does, click meanwhile; returns the seconds to
    the last stored vector and the seconds after it until the HNSW index was ready."""
    name = active.model_name()
    vectors = CompanyEmbedding.objects.current(name).filter(company_id__gte=ids[0], company_id__lte=ids[-1])
    started = time.monotonic()
    deadline = started + timeout_s
    embeddings.queue_embedding(ids)
    embedded_at, next_click, next_count = None, started + click_every, 0.0
    while True:
        now = time.monotonic()
        if now > deadline:
            raise CommandError(f"the import was not embedded within {timeout_s:.0f} s (--timeout)")
        if embedded_at is None and now >= next_count:
            next_count = now + 1.0
            if vectors.count() == len(ids):
                embedded_at = now
        if embedded_at is not None and hnsw.index_ready(name):
            return embedded_at - started, time.monotonic() - embedded_at
        if clicker is not None and now >= next_click:
            clicker.click()
            next_click = max(next_click + click_every, time.monotonic())
        time.sleep(0.05)


def _forget(ids: list[int]) -> None:
    """Delete an import's companies (never labelled: the rep clicks the team's) through the
    companies service, with their vectors, words and scores, and vacuum, so that the next import
    starts where this one did."""
    companies.delete_companies(Company.objects.filter(pk__range=(ids[0], ids[-1])))
    with connection.cursor() as cursor:
        cursor.execute("vacuum analyze")
