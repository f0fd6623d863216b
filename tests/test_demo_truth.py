"""The demo tells the truth: on the demo companies, a rep who likes food, drink and cold chain and
dislikes software, fintech, marketing and clothing never sees a builder, a hotel, a clothing brand
or a clinic called a fit, and does see cold-chain companies called one.

Real components end to end: the demo CSV imported as `manage.py demo` imports it, a real Celery
worker with the real sentence-transformers model, the rep's likes clicked in headless Chromium,
and what the dashboard and a company page show once the worker has rescored."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from tests.browser_helpers import CHROMIUM, log_in

if not CHROMIUM.exists():
    pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from leads.companies import distribution as fit_distribution
from leads.core import queue  # noqa: E402
from leads.imports.services import create_job, run_import  # noqa: E402
from leads.management.commands.demo import DEMO_CSV  # noqa: E402
from leads.models import FIRST_PROFILE_ID, Company, ImportJob, Score, ScoringState  # noqa: E402
from leads.scoring import bands, reads
from tests.test_browser import row_of, rows  # noqa: E402
from tests.test_end_to_end import all_embedded, scores_current, wait_until  # noqa: E402
from tests.worker_helpers import start_worker  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The rep's likes on top of the 5 likes and 5 dislikes the demo CSV carries: cold chain, dairy, food.
REP_LIKES = ["Glacier Bay Cold Storage", "Kaltwerk Kühllogistik", "Casa Olmeda Quesos", "Maple Ridge Smokehouse"]
# Nothing the rep liked is like these: none of them may be called a fit.
NOT_A_FIT = {"Construction", "Building Materials", "Hospitality", "Apparel & Fashion", "Healthcare", "Medical Devices"}
FIT_BANDS = {bands.STRONG.label, bands.LIKELY.label}
# One row of the dashboard as the rep reads it (templates/leads/_company_row.html, _score.html).
ROWS_JS = """rows => rows.map(row => ({
    name: row.querySelector("td.name a").innerText.trim(),
    industry: row.querySelector("td:nth-child(2)").innerText.trim(),
    fit: row.querySelector("td.score-cell .score")?.innerText.trim() ?? "",
    band: row.querySelector("td.score-cell .band")?.innerText.trim() ?? "",
    verdict: row.querySelector("td.score-cell .badge")?.innerText.trim() ?? "",
}))"""


def describe(score: Score, distribution: bands.Distribution) -> str:
    """A score as a failure message needs it: fit, score, band, rank and its nearest labelled companies."""
    names = Company.objects.in_bulk(score.neighbour_ids)
    neighbours = ", ".join(
        f"{names[cid].name if cid in names else cid} ({'like' if label > 0 else 'dislike'}, d={distance:.3f})"
        for cid, distance, label in zip(score.neighbour_ids, score.neighbour_distances, score.neighbour_labels)
    )
    band = fit_distribution.band_of(score, distribution)
    return (
        f"{score.company.name} ({score.company.industry}): fit {score.signed_fit}, score {score.signed}, "
        f"band {band.label}, {distribution.rank_text(score.fit)}, evidence {score.evidence:.2f}, "
        f"unexplored {score.unexplored}, supported {score.supported}; neighbours: {neighbours}"
    )


def radius_text() -> str:
    """The "close" the fits were weighed with, beside the one the embedded companies give now."""
    return (
        f"fits weighed with radius {ScoringState.of(FIRST_PROFILE_ID).radius:.3f}; "
        f"the embedded companies' radius is {reads.measure_radius():.3f}"
    )


def dashboard_rows(page, live_server) -> list[dict]:
    """Every row of the dashboard, page after page, as the page shows it."""
    shown, number = [], 1
    while True:
        page.goto(f"{live_server.url}/?page={number}")
        expect(rows(page).first).to_be_visible()
        shown += rows(page).evaluate_all(ROWS_JS)
        if not page.locator("nav.pages a[rel=next]").count():
            return shown
        number += 1


def test_on_the_demo_data_only_companies_like_the_liked_ones_are_called_a_fit(
    live_server, page, staff, alice, tmp_path
):

    queue.purge()  # tasks other tests queued without a worker, for long-gone rows
    worker = start_worker(tmp_path, "demo")  # the real model, the default k, as in `make run`
    try:
        # The demo's import, as `manage.py demo` runs it: 72 companies, 5 liked and 5 disliked.
        job = run_import(create_job(path=DEMO_CSV, user=staff))
        assert (job.state, job.created, job.rejected, job.labels) == (ImportJob.State.DONE, 72, 0, 10)
        wait_until(worker, "every demo company to be embedded", all_embedded)
        wait_until(worker, "the scores of the imported labels", scores_current)

        # A rep likes the cold-chain, dairy and food companies, clicking Like on the dashboard.
        log_in(page, live_server)
        for name in REP_LIKES:
            industry = Company.objects.get(name=name).industry
            page.goto(f"{live_server.url}/?{urlencode({'industry': industry})}")
            row_of(page, name).locator("button[value=like]").click()
            expect(row_of(page, name).locator(".badge.like")).to_have_text("Liked")
            expect(page.locator("#toast")).to_contain_text(f"{name}: liked.")
        in_profile = Company.objects.in_profile(FIRST_PROFILE_ID)
        assert in_profile.filter(verdict="like").count() == 9
        assert in_profile.filter(verdict="dislike").count() == 5
        cold_chain = set(Company.objects.filter(industry="Cold Chain Logistics").values_list("name", flat=True))
        wait_until(
            worker,
            "the rescore after the rep's likes",
            lambda: (
                scores_current()
                and not Score.objects.filter(profile_id=FIRST_PROFILE_ID, company__name__in=REP_LIKES).exists()
            ),
        )

        # The database: the band of every stored fit (distribution.band_of), against the distribution of
        # the fits stored now (not a cached one), so that a failure names the company and why.
        scored = list(Score.objects.filter(profile_id=FIRST_PROFILE_ID).select_related("company").order_by("-fit"))
        assert len(scored) == Company.objects.unlabelled(FIRST_PROFILE_ID).count() == 72 - 14
        truth = bands.Distribution.of([score.fit for score in scored])
        band = {score.company.name: fit_distribution.band_of(score, truth) for score in scored}
        called_a_fit = [
            describe(score, truth)
            for score in scored
            if score.company.industry in NOT_A_FIT and band[score.company.name].label in FIT_BANDS
        ]
        assert not called_a_fit, "called a fit though nothing liked is like it ({}):\n{}".format(
            radius_text(), "\n".join(called_a_fit)
        )
        strong_cold_chain = sorted(
            name for name, company_band in band.items() if company_band == bands.STRONG and name in cold_chain
        )
        assert strong_cold_chain, f"no cold-chain company is a strong fit ({radius_text()}):\n" + "\n".join(
            describe(score, truth) for score in scored if score.company.name in cold_chain
        )
        redbrook = next(score for score in scored if score.company.name == "Redbrook Timber Frame")
        assert redbrook.unexplored or redbrook.fit <= 0, f"{describe(redbrook, truth)} ({radius_text()})"

        # The dashboard, reloaded, shows the same: page after page, every row as the rep reads it.
        shown = dashboard_rows(page, live_server)
        assert len(shown) == 72
        assert sorted(row["name"] for row in shown if row["verdict"]) == sorted(
            Company.objects.labelled(FIRST_PROFILE_ID).values_list("name", flat=True)
        )
        unlabelled = [row for row in shown if not row["verdict"]]
        assert all(row["fit"] and row["band"] for row in unlabelled), unlabelled  # every one scored and banded
        shown_a_fit = [row for row in unlabelled if row["industry"] in NOT_A_FIT and row["band"] in FIT_BANDS]
        assert not shown_a_fit, f"the dashboard calls these a fit: {shown_a_fit}"
        misbanded = [
            f"{row['name']}: the page shows {row['band']} ({row['fit']}), its fit is {band[row['name']].label}"
            for row in unlabelled
            if row["band"] != band[row["name"]].label
        ]
        assert not misbanded, "the dashboard's bands are not the stored fits' bands:\n" + "\n".join(misbanded)
        shown_strong = sorted(
            row["name"] for row in unlabelled if row["name"] in cold_chain and row["band"] == "strong fit"
        )
        assert shown_strong == strong_cold_chain
        # The best fits lead the list: cold chain or brewing, never an industry nothing liked is like.
        assert unlabelled[0]["band"] == "strong fit" and unlabelled[0]["industry"] not in NOT_A_FIT, unlabelled[0]

        # Redbrook Timber Frame: nothing liked is close, and its page says so rather than "close to".
        page.goto(f"{live_server.url}/companies/{redbrook.company_id}/")
        expect(page.get_by_role("heading", name="Redbrook Timber Frame")).to_be_visible()
        explanation = page.locator("p.explanation")
        expect(explanation).not_to_be_empty()
        assert "close to" not in explanation.inner_text(), explanation.inner_text()
        shown_band = page.locator("article .band").inner_text().strip()
        shown_fit = float(page.locator("article .score").inner_text())
        assert shown_band not in FIT_BANDS, shown_band
        assert shown_band == bands.UNEXPLORED.label or shown_fit <= 0, (shown_band, shown_fit)
        expect(explanation).to_have_text(re.compile(r"^Nothing you labelled is close"))
    finally:
        worker.stop()
