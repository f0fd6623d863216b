"""The label review page: each list finds exactly the cases planted in a world of hand-made
vectors, and nothing else; every fix is a label in the history; "keep" is remembered; reps are
kept out. Real database and pgvector; vectors are written directly, as the worker would."""

from __future__ import annotations

import datetime
import itertools
import re

import numpy as np
import pytest
from django.utils import timezone
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from leads.embedding import active
from leads.labelnext import choice as labelnext
from leads.models import (
    FIRST_PROFILE_ID,
    Company,
    CompanyEmbedding,
    Label,
    LabelSource,
    QualitySnapshot,
    ReviewDecision,
)
from leads.review import quality
from leads.review import selectors as review
from leads.review import services as review_service
from leads.review.snapshots import record_quality, record_quality_if_due
from leads.scoring import evidence, labels, reads
from leads.scoring import services as scores

pytestmark = pytest.mark.django_db

_spare_dimensions = itertools.cycle(range(100, 384))  # distinct within a world of fewer than 284 vectors


def near(axis: int, cos: float) -> np.ndarray:
    """A unit vector at cosine `cos` from basis vector `axis`, off in a dimension of its own: two
    such vectors on one axis are at cosine distance 1 - cos1 * cos2; on different axes, exactly 1."""
    vector = np.zeros(384)
    vector[axis] = cos
    vector[next(_spare_dimensions)] = np.sqrt(1.0 - cos**2)
    return vector


def add(name: str, vector: np.ndarray | None = None) -> Company:
    company = Company.objects.create(name=name)
    if vector is not None:
        CompanyEmbedding.objects.create(
            company=company, model_name=active.model_name(), text_hash=company.text_hash, vector=vector
        )
    return company


def give(company: Company, user, verdict: str, source: str = LabelSource.CLICK) -> None:
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=company, user=user, verdict=verdict, source=source)


@pytest.fixture
def planted(settings, alice, bob, staff, django_user_model, fresh_hnsw_index):
    """Labelled by alice, with vectors (k = 5):
    - A1..A5 liked around axis 0, and "Odd One Out", disliked, among them: suspicious;
    - B1..B5 disliked around axis 1;
    - "Twin Like" / "Twin Dislike" at distance 0.02: near-duplicates labelled apart (and, alone
      on their axis, each other's suspicious label);
    - "Close Like" / "Close Dislike" at distance 0.069: not near-duplicates, but suspicious;
    - "Pair One" / "Pair Two", both liked at distance 0.02: nothing to review.
    Unlabelled: copies of A1 and B1 (distance 0), "Somewhat Far" (0.41 from A), "Far Away" (1.0).
    Without vectors, labelled by reps: "Disputed" and "Disputed Later" (alice and bob disagree),
    "Agreed", "Both Dislike", "Settled" (a manager labelled it since), "Withdrawn" (bob cleared),
    "Flipped Back" (bob came round); dave labelled "Agreed" too."""
    settings.SCORING_K = 5
    made = {}
    for i in range(1, 6):
        made[f"A{i}"] = add(f"A{i}", near(0, 0.98))
        made[f"B{i}"] = add(f"B{i}", near(1, 0.98))
    made["Odd One Out"] = add("Odd One Out", near(0, 0.9))
    for name, axis, cos in [("Twin", 2, 0.99), ("Close", 3, 0.965)]:
        made[f"{name} Like"] = add(f"{name} Like", near(axis, cos))
        made[f"{name} Dislike"] = add(f"{name} Dislike", near(axis, cos))
    made["Pair One"], made["Pair Two"] = add("Pair One", near(4, 0.99)), add("Pair Two", near(4, 0.99))
    liked = [f"A{i}" for i in range(1, 6)] + ["Twin Like", "Close Like", "Pair One", "Pair Two"]
    for name in made:
        give(made[name], alice, "like" if name in liked else "dislike")

    a1, b1 = CompanyEmbedding.objects.get(company=made["A1"]), CompanyEmbedding.objects.get(company=made["B1"])
    made["Copy of A1"] = add("Copy of A1", np.array(a1.vector))
    made["Copy of B1"] = add("Copy of B1", np.array(b1.vector))
    made["Somewhat Far"] = add("Somewhat Far", near(0, 0.6))
    far = np.zeros(384)
    far[20] = 1.0
    made["Far Away"] = add("Far Away", far)

    dave = django_user_model.objects.create_user("dave", "dave@example.com", "dave-password-1")
    rep_labels = {
        "Disputed": [(alice, "like"), (bob, "dislike")],
        "Disputed Later": [(alice, "dislike"), (bob, "like")],
        "Agreed": [(alice, "like"), (bob, "like"), (dave, "like")],
        "Both Dislike": [(alice, "dislike"), (bob, "dislike")],
        "Settled": [(alice, "like"), (bob, "dislike"), (staff, "like", LabelSource.ADMIN)],
        "Withdrawn": [(alice, "like"), (bob, "dislike"), (bob, "clear")],
        "Flipped Back": [(alice, "like"), (bob, "dislike"), (bob, "like")],
    }
    for name, given in rep_labels.items():
        made[name] = add(name)
        for user, verdict, *source in given:
            give(made[name], user, verdict, *source)
    scores.rescore_all(FIRST_PROFILE_ID)
    for company in made.values():
        company.refresh_from_db()
    return made


def names(companies) -> list[str]:
    return [company.name for company in companies]


def test_it_finds_exactly_the_suspicious_labels_planted(planted):
    found, total = review.suspicious_labels(profile_id=FIRST_PROFILE_ID)
    assert sorted(names(e.company for e in found)) == [
        "Close Dislike", "Close Like", "Odd One Out", "Twin Dislike", "Twin Like",
    ]  # fmt: skip
    assert total == 5
    worst = found[0]
    assert worst.company.name == "Odd One Out" and worst.loo_score == pytest.approx(1.0)  # its 5 nearest: A1..A5
    assert sorted(names(n.company for n in worst.neighbours)) == ["A1", "A2", "A3", "A4", "A5"]
    assert worst.reason.startswith("Disliked, but scored +1.00 from the other labels: 5 liked and 0 disliked")
    assert [e.loo_score * (1 if e.company.verdict == "like" else -1) for e in found] == sorted(
        e.loo_score * (1 if e.company.verdict == "like" else -1) for e in found
    )  # worst first
    assert all(e.label_id == Label.objects.filter(company=e.company).latest("created_at").pk for e in found)


def test_the_suspicious_threshold_is_the_leave_one_out_score(planted):
    loo = review.labelled_loo(FIRST_PROFILE_ID)
    contradicted = {int(i) for i, y, s in zip(loo.company_ids, loo.labels, loo.scores) if y * s < -0.5}
    assert contradicted == {e.company.pk for e in review.suspicious_labels(profile_id=FIRST_PROFILE_ID)[0]}


def test_it_finds_exactly_the_conflicts_planted(planted):
    found, total = review.conflicts(profile_id=FIRST_PROFILE_ID)
    assert sorted(names(c.company for c in found)) == ["Disputed", "Disputed Later"] and total == 2
    assert {c.company.name: c.given for c in found} == {
        "Disputed": "alice liked, bob disliked",
        "Disputed Later": "bob liked, alice disliked",
    }


def test_agreement_is_cohens_kappa_for_each_pair_of_reps(planted):
    pairs = {(p.first, p.second): p for p in review.rep_agreement(FIRST_PROFILE_ID)}
    assert set(pairs) == {("alice", "bob"), ("alice", "dave"), ("bob", "dave")}
    # Both gave a verdict (latest, clears and a manager's labels left out): Withdrawn is not shared.
    alice = {"Disputed": "like", "Disputed Later": "dislike", "Agreed": "like", "Both Dislike": "dislike",
             "Settled": "like", "Flipped Back": "like"}  # fmt: skip
    bob = {"Disputed": "dislike", "Disputed Later": "like", "Agreed": "like", "Both Dislike": "dislike",
           "Settled": "dislike", "Flipped Back": "like"}  # fmt: skip
    expected = cohen_kappa_score([alice[n] for n in alice], [bob[n] for n in alice])
    assert pairs["alice", "bob"].kappa == pytest.approx(expected)
    assert (pairs["alice", "bob"].shared, pairs["alice", "bob"].agreed) == (6, 3)
    assert pairs["alice", "dave"].shared == 1 and pairs["alice", "dave"].kappa is None  # one verdict: undefined


def test_it_finds_exactly_the_near_duplicates_planted(planted):
    found, total = review.near_duplicates(profile_id=FIRST_PROFILE_ID)
    assert [(p.liked.name, p.disliked.name) for p in found] == [("Twin Like", "Twin Dislike")] and total == 1
    assert found[0].distance == pytest.approx(1 - 0.99**2, abs=1e-6)
    wider = review.near_duplicates(profile_id=FIRST_PROFILE_ID, threshold=0.08)[0]  # the close pair is at 0.069
    assert [(p.liked.name, p.disliked.name) for p in wider] == [
        ("Twin Like", "Twin Dislike"),
        ("Close Like", "Close Dislike"),
    ]
    assert review.near_duplicates(profile_id=FIRST_PROFILE_ID, threshold=0.01) == ([], 0)


def test_low_confidence_lists_the_unlabelled_companies_far_from_any_label(planted):
    found, total, threshold = review.low_confidence(profile_id=FIRST_PROFILE_ID)
    assert names(e.company for e in found) == ["Far Away", "Somewhat Far"] and total == 2
    assert found[0].nearest_distance == pytest.approx(1.0)
    assert found[1].nearest_distance == pytest.approx(1 - 0.6 * 0.98, abs=1e-6)
    assert threshold == labelnext.low_confidence_threshold(reads.load_labelled_set(FIRST_PROFILE_ID).vectors)
    assert threshold < 0.2


def test_the_page_shows_every_section_to_staff(planted, as_staff):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    record_quality(
        report=quality.evaluate(np.eye(4, 384), [1, 1, -1, -1], k=5, bootstrap=0),
        date=yesterday,
        profile_id=FIRST_PROFILE_ID,
    )
    record_quality(profile_id=FIRST_PROFILE_ID)
    response = as_staff.get("/review/")
    assert response.status_code == 200
    page = response.content.decode()
    for name in ["Odd One Out", "Disputed Later", "Twin Dislike", "Far Away", "alice and bob"]:
        assert name in page
    assert "Settled" not in page and "Copy of A1" not in page
    assert "ROC AUC" in page
    chart = re.search(r'<polyline class="auc" points="([^"]*)"', page).group(1)
    assert len(chart.split()) == 2  # yesterday's and today's figures


def test_the_page_works_without_labels(as_staff):
    response = as_staff.get("/review/")
    assert response.status_code == 200
    assert b"nothing to measure yet" in response.content


def test_every_fix_is_a_managers_label_in_the_history(planted, as_staff, staff):
    odd, disputed = planted["Odd One Out"], planted["Disputed"]
    response = as_staff.post(f"/review/companies/{odd.pk}/label", {"verdict": "like", "section": "suspicious"})
    assert response.status_code == 302 and response["Location"] == "/review/#suspicious"
    as_staff.post(f"/review/companies/{disputed.pk}/label", {"verdict": "clear", "section": "conflicts"})
    for company, verdict in [(odd, "like"), (disputed, "clear")]:
        latest = Label.objects.filter(company=company).latest("created_at")
        assert (latest.verdict, latest.source, latest.user) == (verdict, LabelSource.ADMIN, staff)
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=odd.pk).verdict == "like"
    suspicious = review.suspicious_labels(profile_id=FIRST_PROFILE_ID)[0]
    assert "Odd One Out" not in names(e.company for e in suspicious)  # right now
    assert names(c.company for c in review.conflicts(profile_id=FIRST_PROFILE_ID)[0]) == ["Disputed Later"]  # settled

    response = as_staff.post(f"/review/companies/{odd.pk}/label", {"verdict": "maybe"}, follow=True)
    assert b"verdict must be one of" in response.content
    assert Label.objects.filter(company=odd).count() == 2


def test_keep_is_remembered_until_the_company_is_labelled_again(planted, as_staff, staff, alice):
    twin = planted["Twin Like"]
    entry = next(e for e in review.suspicious_labels(profile_id=FIRST_PROFILE_ID)[0] if e.company == twin)
    response = as_staff.post(
        f"/review/companies/{twin.pk}/keep", {"kind": "suspicious", "label": entry.label_id, "section": "suspicious"}
    )
    assert response.status_code == 302
    decision = ReviewDecision.objects.get()
    assert (decision.kind, decision.company, decision.label_id, decision.user) == (
        "suspicious",
        twin,
        entry.label_id,
        staff,
    )
    assert "Twin Like" not in names(e.company for e in review.suspicious_labels(profile_id=FIRST_PROFILE_ID)[0])
    page = as_staff.get("/review/").content.decode()
    suspicious_section = page.split('id="suspicious"')[1].split('id="conflicts"')[0]
    assert f'action="/review/companies/{twin.pk}/keep"' not in suspicious_section
    assert f'action="/review/companies/{planted["Twin Dislike"].pk}/keep"' in suspicious_section
    assert Label.objects.filter(company=twin).count() == 1  # a keep writes no label

    give(twin, alice, "like")  # labelled again, even the same verdict: look again
    assert "Twin Like" in names(e.company for e in review.suspicious_labels(profile_id=FIRST_PROFILE_ID)[0])


def test_keep_hides_a_conflict_and_a_pair(planted, staff, bob):
    conflict = next(c for c in review.conflicts(profile_id=FIRST_PROFILE_ID)[0] if c.company.name == "Disputed")
    review_service.review_keep(
        profile_id=FIRST_PROFILE_ID, company=conflict.company, kind="conflict", user=staff, label_id=conflict.label_id
    )
    assert names(c.company for c in review.conflicts(profile_id=FIRST_PROFILE_ID)[0]) == ["Disputed Later"]

    (pair,), _ = review.near_duplicates(profile_id=FIRST_PROFILE_ID)
    review_service.review_keep(
        profile_id=FIRST_PROFILE_ID, company=pair.liked, kind="duplicate", user=staff,
        label_id=pair.liked_label_id, other=pair.disliked, other_label_id=pair.disliked_label_id,
    )  # fmt: skip
    assert review.near_duplicates(profile_id=FIRST_PROFILE_ID) == ([], 0)
    give(pair.disliked, bob, "dislike")
    assert len(review.near_duplicates(profile_id=FIRST_PROFILE_ID)[0]) == 1


def test_a_keep_for_a_label_since_replaced_is_refused(planted, as_staff, staff, alice):
    twin = planted["Twin Like"]
    shown = Label.objects.filter(company=twin).latest("created_at").pk
    give(twin, alice, "like")
    with pytest.raises(review_service.StaleEntry):
        review_service.review_keep(
            profile_id=FIRST_PROFILE_ID, company=twin, kind="suspicious", user=staff, label_id=shown
        )
    response = as_staff.post(f"/review/companies/{twin.pk}/keep", {"kind": "suspicious", "label": shown}, follow=True)
    assert b"labelled again since" in response.content
    response = as_staff.post(f"/review/companies/{twin.pk}/keep", {"kind": "nonsense", "label": shown}, follow=True)
    assert b"Not a review entry" in response.content
    assert not ReviewDecision.objects.exists()


def test_reps_cannot_open_the_page_or_fix_labels(planted, as_alice):
    response = as_alice.get("/review/")
    assert response.status_code == 403 and "Sales managers" in response.text  # the role to ask for
    odd = planted["Odd One Out"]
    before = Label.objects.count()
    response = as_alice.post(f"/review/companies/{odd.pk}/label", {"verdict": "like"})
    assert response.status_code == 403
    response = as_alice.post(f"/review/companies/{odd.pk}/keep", {"kind": "suspicious", "label": 1})
    assert response.status_code == 403
    assert Label.objects.count() == before and not ReviewDecision.objects.exists()


# --- Quality: one set of figures ---------------------------------------------------------------


def quality_section(client) -> str:
    page = client.get("/review/").content.decode()
    return page.split('id="quality"')[1].split('id="suspicious"')[0]


def headline_auc(section: str) -> str:
    return re.search(r'class="headline-auc"><strong>([^<]*)</strong>', section).group(1)


def row_auc(section: str, k: int) -> str:
    row = section.split(f'<tr data-k="{k}"')[1].split("</tr>")[0]
    return re.findall(r"<td>([^<(]*)", row)[1].strip()


def test_the_headline_and_the_used_k_row_show_one_auc(planted, as_staff):
    """This morning's snapshot, recorded when the team had four labels, does not make the table
    disagree with the headline: both are the labels as they are now, and so is today's point."""
    record_quality(
        report=quality.evaluate(np.eye(4, 384), [1, -1, 1, -1], k=5, bootstrap=0), profile_id=FIRST_PROFILE_ID
    )
    section = quality_section(as_staff)
    now = review.labelled_quality(profile_id=FIRST_PROFILE_ID).report.headline
    assert headline_auc(section) == row_auc(section, 5) == f"{now.auc:.3f}"
    assert '<tr data-k="5" class="current">' in section
    assert f'<span class="key-auc">ROC AUC</span> {now.auc:.3f}' in section  # today's point


def test_new_labels_change_the_figures_the_same_day(planted, as_staff, alice):
    before = quality_section(as_staff)
    record_quality(profile_id=FIRST_PROFILE_ID)
    for name in ["Odd One Out", "Close Dislike", "Twin Dislike"]:  # the suspicious ones, fixed
        give(planted[name], alice, "like")
    after = quality_section(as_staff)
    now = review.labelled_quality(profile_id=FIRST_PROFILE_ID).report.headline
    assert headline_auc(after) == row_auc(after, 5) == f"{now.auc:.3f}" != headline_auc(before)
    snapshot = record_quality_if_due(FIRST_PROFILE_ID)  # the sweep: today's record follows the labels
    assert snapshot is not None and snapshot.auc == now.auc and QualitySnapshot.objects.count() == 1


def test_a_first_day_is_a_visible_point(planted, as_staff):
    section = quality_section(as_staff)
    now = review.labelled_quality(profile_id=FIRST_PROFILE_ID).report.headline
    dot = re.search(r'<circle class="auc" cx="([\d.]+)" cy="([\d.]+)" r="3"/>', section)
    assert dot is not None and float(dot.group(2)) == pytest.approx(6 + 108 * (1 - now.auc), abs=0.1)
    assert "First day" in section

    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    record_quality(
        report=quality.evaluate(np.eye(4, 384), [1, 1, -1, -1], k=5, bootstrap=0),
        date=yesterday,
        profile_id=FIRST_PROFILE_ID,
    )
    section = quality_section(as_staff)
    assert "First day" not in section
    assert len(re.search(r'<polyline class="auc" points="([^"]*)"', section).group(1).split()) == 2


def test_liked_in_the_top_says_how_many_it_read(planted, as_staff):
    section = quality_section(as_staff)
    top = review.labelled_quality(profile_id=FIRST_PROFILE_ID).report.headline.top[20]
    assert top[0] == 17  # fewer than 20 labelled companies: all of them
    figures = section.split('class="review-figures"')[1].split("</div>\n  </div>")[0]
    assert f"{round(100 * top[1])}%</strong>" in figures and "liked among the top 17" in figures
    assert "top 20 needs 20 labels, have 17" in figures and "—" not in figures
    assert "(top 17)" in section.split('<tr data-k="5"')[1].split("</tr>")[0]


def test_the_fit_is_ranked_beside_the_score(planted, as_staff):
    section = quality_section(as_staff)
    labelled = reads.load_labelled_set(FIRST_PROFILE_ID)
    loo = quality.leave_one_out(labelled.vectors, labelled.labels, 5)
    fits = evidence.of_neighbours(loo.distances, labelled.labels[loo.neighbours], labelled.radius).fit
    fit_auc = roc_auc_score(labelled.labels, np.round(fits, 9))
    assert review.labelled_quality(profile_id=FIRST_PROFILE_ID).report.headline.fit_auc == pytest.approx(
        fit_auc, abs=1e-12
    )
    assert f"Ranking by fit: AUC {fit_auc:.3f}, by score: AUC {headline_auc(section)}" in section
    assert f"<td>{fit_auc:.3f}</td>" in section.split('<tr data-k="5"')[1].split("</tr>")[0]


@pytest.mark.parametrize("other", ["²", "٣", "9" * 5000, "12345678901234567890"])
def test_a_keep_with_an_id_that_is_no_id_is_a_404_not_a_500(planted, as_staff, other):
    twin = planted["Twin Like"]
    response = as_staff.post(f"/review/companies/{twin.pk}/keep", {"kind": "duplicate", "other": other})
    assert response.status_code == 404
    response = as_staff.post(f"/review/companies/{twin.pk}/keep", {"kind": "suspicious", "label": other}, follow=True)
    assert response.status_code == 200
