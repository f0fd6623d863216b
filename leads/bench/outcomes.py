"""Benchmark the "Does it find customers?" report at a team's size: `manage.py bench_outcomes_report`.

On its own throw-away database: `--companies` scored companies kept in `--days` daily score
snapshots (synthetic fits: the report reads snapshots, not scores), and `--deals` decided deals on
companies spread over those days. Times the report with every deal's band before it read from the
snapshots (deals never read, as after an upgrade) and with each deal's band kept on it (what the
import and the sweep leave), and checks both give the same report."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from django.db import transaction
from django.utils import timezone

from leads.bench.database import bench_database
from leads.models import Company, Outcome, Profile, ScoreSnapshot, Stage
from leads.outcomes import services as outcomes
from leads.outcomes.report import outcomes_report
from leads.scoring import history

FIRST_DAY = datetime.date(2025, 1, 1)


def run(*, companies: int, days: int, deals: int, database_name: str, seed: int, log: Callable[[str], None]) -> dict:
    rng = np.random.default_rng(seed)
    with bench_database(database_name, fingerprint={}, reuse=False, keep=False):
        started = time.perf_counter()
        with transaction.atomic():
            made = Company.objects.bulk_create(
                Company(name=f"Deal company {i}", dedupe_key=f"deal-company-{i}", text_hash="x") for i in range(deals)
            )
            ids = np.arange(1, companies + 1, dtype=np.int64)
            ids[: len(made)] = sorted(c.pk for c in made)  # the deals' companies are among the scored
            ids.sort()
            for day in range(days):
                fits = rng.uniform(-1, 1, companies)
                packed = history.pack(ids, fits, history.band_codes(fits, fits < -0.9, fits > 0))
                ScoreSnapshot.objects.create(profile=Profile.first(), taken_on=FIRST_DAY + datetime.timedelta(days=day),
                                             taken_at=timezone.now(), companies=companies,
                                             ids=packed.ids, fits=packed.fits, bands=packed.bands)  # fmt: skip
            decided = timezone.make_aware(
                datetime.datetime.combine(FIRST_DAY + datetime.timedelta(days=days), datetime.time())
            )
            Outcome.objects.bulk_create(
                Outcome(company=company, crm="hubspot", deal_id=str(n), matched_by="record",
                        stage=Stage.WON if rng.random() < 0.3 else Stage.LOST, decided_at=decided,
                        closed_on=FIRST_DAY + datetime.timedelta(days=int(rng.integers(1, days + 1))))
                for n, company in enumerate(made)
            )  # fmt: skip
        log(
            f"filled: {companies:,} companies x {days} snapshots, {deals:,} deals ({time.perf_counter() - started:.0f} s)"
        )
        first_report = partial(outcomes_report, profile_id=Profile.first().pk)  # the profile of the snapshots
        read_s, report = _timed(first_report)
        log(f"report, every band read from the snapshots: {read_s:.2f} s")
        keep_s, _ = _timed(outcomes.remember_bands_before)
        log(f"bands kept on the deals: {keep_s:.2f} s")
        kept_s = []
        for _ in range(5):
            seconds, again = _timed(first_report)
            kept_s.append(seconds)
        log(f"report, bands kept: {np.median(kept_s):.3f} s (median of 5)")
        return {
            "companies": companies,
            "snapshots": days,
            "deals": deals,
            "counted": report["counted"],
            "report_reading_snapshots_s": read_s,
            "keep_bands_s": keep_s,
            "report_bands_kept_s": float(np.median(kept_s)),
            "same_report": again == report,
        }


def _timed(call):
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result
