"""What to label next: the pure ranking on hand-made vectors, the selector on the test database,
and the evaluation's simulated reps on a tiny synthetic set (never ../shared)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.db import connection

from leads.bench import evaluation
from leads.embedding import services as embeddings
from leads.labelnext import choice as labelnext
from leads.labelnext import selectors as labelnext_selectors
from leads.models import FIRST_PROFILE_ID, Company, Score
from leads.scoring.knn import knn_scores

DIMS = 16


def planar(plane: int, degrees: float) -> np.ndarray:
    """A unit vector at `degrees` in the plane of axes (2*plane, 2*plane + 1)."""
    vector = np.zeros(DIMS)
    vector[2 * plane], vector[2 * plane + 1] = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return vector


def axis(i: int) -> np.ndarray:
    return np.eye(DIMS)[i]


# Two like/dislike pairs 20 degrees apart, in two planes: labelled companies are ~0.06 from their
# nearest labelled company, so the low-confidence threshold is 1 - cos(20 deg).
LABELLED = np.stack([planar(0, 0), planar(0, 20), planar(1, 0), planar(1, 20)])
LABELS = np.array([1.0, -1.0, 1.0, -1.0])


def reasons_by_row(candidates: np.ndarray) -> dict[int, str]:
    ranking = labelnext.rank(candidates, LABELLED, LABELS, limit=len(candidates), k=10)
    return dict(zip(ranking.rows.tolist(), ranking.reasons))


def clusters(
    sizes: list[int], *, dims: int = DIMS, spread: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Tight clusters around orthogonal axes, rows shuffled: (vectors, cluster of each row)."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(cluster)
    vectors = np.eye(dims)[cluster] + spread * rng.standard_normal((len(cluster), dims))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), cluster


# --- The pure ranking ------------------------------------------------------------------------


def test_the_threshold_is_a_high_percentile_of_the_labelled_spacing():
    assert labelnext.low_confidence_threshold(LABELLED) == pytest.approx(1 - np.cos(np.radians(20)))
    # Spacings 0.06 (twice) and 1 - cos(60 deg) = 0.5 for the third: the 90th percentile interpolates.
    three = np.stack([planar(0, 0), planar(0, 20), planar(0, 80)])
    spacings = [1 - np.cos(np.radians(20))] * 2 + [1 - np.cos(np.radians(60))]
    assert labelnext.low_confidence_threshold(three) == pytest.approx(np.percentile(spacings, 90))


def test_with_fewer_than_two_labels_everything_is_low_confidence():
    assert labelnext.low_confidence_threshold(LABELLED[:1]) == 0.0
    assert labelnext.is_low_confidence(0.01, 0.0) is True


def test_is_low_confidence_compares_the_nearest_distance_with_the_threshold():
    assert labelnext.is_low_confidence(0.5, 0.3) is True
    assert labelnext.is_low_confidence(0.3, 0.3) is False
    assert labelnext.is_low_confidence(np.array([0.1, 0.4]), 0.3).tolist() == [False, True]


def test_a_company_between_a_like_and_a_dislike_is_uncertain():
    reasons = reasons_by_row(np.stack([planar(0, 10), planar(0, 2)]))
    assert reasons[0] == labelnext.UNCERTAIN


def test_a_company_far_from_every_label_is_unexplored():
    reasons = reasons_by_row(np.stack([axis(6), planar(0, 10)]))
    assert reasons[0] == labelnext.UNEXPLORED


def test_a_member_of_a_dense_cluster_is_influential_and_comes_before_a_lone_lookalike():
    rng = np.random.default_rng(0)
    crowd = np.stack([planar(0, 2) + 0.002 * rng.standard_normal(DIMS) for _ in range(20)])
    loner = planar(1, 2)  # as near its liked neighbour as the crowd is, but alone
    candidates = np.vstack([loner, crowd])
    ranking = labelnext.rank(candidates, LABELLED, LABELS, limit=len(candidates), k=10)
    assert ranking.rows[0] != 0
    assert ranking.reasons[0] == labelnext.INFLUENTIAL
    assert ranking.scores[0] > labelnext.UNCERTAIN_BELOW
    assert ranking.reach[0] > 0.5  # it would join the neighbours of most of the crowd


def test_a_sure_pick_that_brings_no_company_nearer_is_to_confirm_not_influential():
    """A small team runs out of useful picks: two companies each beside a like, nothing unlabelled
    near either. It used to say "influential: close to many unlabelled companies, 0.0% of them"."""
    candidates = np.stack([planar(0, 1), planar(1, 1)])
    ranking = labelnext.rank(candidates, LABELLED, LABELS, limit=2, k=10)
    assert ranking.gains.tolist() == [0.0, 0.0] and ranking.reach.tolist() == [0.0, 0.0]
    assert ranking.reasons == (labelnext.CONFIRM, labelnext.CONFIRM)
    assert all(score > labelnext.UNCERTAIN_BELOW for score in ranking.scores)


def test_the_top_of_the_list_is_not_near_duplicates():
    # Two groups of ten near-identical companies, equally far from the labels: one from each first.
    group, _ = clusters([10, 10], dims=2, spread=0.001)
    candidates = np.hstack([np.zeros((20, 4)), group, np.zeros((20, DIMS - 6))])  # orthogonal to the labels
    ranking = labelnext.rank(candidates, LABELLED, LABELS, limit=2, k=10)
    first, second = candidates[ranking.rows]
    assert 1 - first @ second / np.linalg.norm(first) / np.linalg.norm(second) > 0.5


def test_stored_scores_and_distances_give_the_same_ranking_as_computing_them():
    candidates, _ = clusters([30, 20, 10], seed=1)
    labelled, _ = clusters([3, 3, 3], seed=2)
    labels = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0])
    stored = knn_scores(candidates, labelled, labels, 10)
    padded = np.hstack([stored.distances, np.full((len(candidates), 1), np.nan)])  # a NaN column: missing
    computed = labelnext.rank(candidates, labelled, labels, limit=10)
    given = labelnext.rank(candidates, labelled, labels, limit=10, scores=stored.values, neighbour_distances=padded)
    assert given.rows.tolist() == computed.rows.tolist()
    assert given.reasons == computed.reasons


def test_it_is_deterministic_and_picks_each_candidate_once():
    candidates, _ = clusters([200, 100, 50], seed=3)
    labelled, _ = clusters([5, 5], seed=4)
    labels = np.array([1.0] * 5 + [-1.0] * 5)
    first = labelnext.rank(candidates, labelled, labels, limit=30, seed=7)
    again = labelnext.rank(candidates, labelled, labels, limit=30, seed=7)
    assert first.rows.tolist() == again.rows.tolist()
    assert len(set(first.rows.tolist())) == 30
    assert set(first.reasons) <= set(labelnext.REASONS)
    far = np.array([reason == labelnext.UNEXPLORED for reason in first.reasons])
    assert np.all(np.diff(far.astype(int)) <= 0)  # the unexplored first
    for group in (far, ~far):
        assert np.all(np.diff(first.gains[group]) <= 1e-12)  # then best first


def test_stored_unexplored_flags_decide_the_reason_and_come_first():
    candidates, _ = clusters([60, 40], seed=3)
    labelled, _ = clusters([5, 5], seed=4)
    labels = np.array([1.0] * 5 + [-1.0] * 5)
    flags = np.zeros(len(candidates), dtype=bool)
    flags[::7] = True
    ranking = labelnext.rank(candidates, labelled, labels, limit=100, unexplored=flags)
    assert [reason == labelnext.UNEXPLORED for reason in ranking.reasons] == flags[ranking.rows].tolist()
    assert ranking.reasons[: flags.sum()] == (labelnext.UNEXPLORED,) * flags.sum()


def test_beyond_max_candidates_it_ranks_a_sample():
    candidates, _ = clusters([300, 200], seed=5)
    labelled, _ = clusters([2, 2], seed=6)
    ranking = labelnext.rank(candidates, labelled, np.array([1.0, 1.0, -1.0, -1.0]), limit=20, max_candidates=50)
    assert len(ranking) == 20
    assert len(set(ranking.rows.tolist())) == 20
    assert ranking.rows.max() < 500


def test_one_sided_labels_still_rank_by_exploration():
    # Only likes so far: every score is +1, yet the list is not empty or flat.
    candidates, _ = clusters([20, 20], seed=8)
    ranking = labelnext.rank(candidates, candidates[:2], np.array([1.0, 1.0]), limit=5)
    assert len(ranking) == 5
    assert np.all(ranking.gains > 0)


def test_cold_start_spreads_over_the_clusters_biggest_first():
    vectors, cluster = clusters([60, 30, 10], seed=9)
    ranking = labelnext.rank(vectors, np.empty((0, DIMS)), np.empty(0), limit=3, seed=1)
    assert cluster[ranking.rows].tolist() == [0, 1, 2]
    assert ranking.reasons == (labelnext.UNEXPLORED,) * 3
    assert ranking.reach.tolist() == pytest.approx([0.6, 0.3, 0.1])
    assert ranking.rows.tolist() != [0, 1, 2]  # not the first rows
    assert labelnext.spread(vectors, 3, seed=1).rows.tolist() == ranking.rows.tolist()


def test_cold_start_with_duplicates_still_fills_the_list():
    vectors = np.repeat(np.eye(DIMS)[:2], 5, axis=0)  # two distinct companies, five copies each
    ranking = labelnext.spread(vectors, 4, seed=0)
    assert len(set(ranking.rows.tolist())) == 4
    assert {int(np.argmax(vectors[row])) for row in ranking.rows[:2]} == {0, 1}


# --- The selector, on the test database ------------------------------------------------------


@pytest.mark.django_db
def test_label_next_suggests_the_unlabelled_scored_companies_with_a_reason(world):
    suggestions = labelnext_selectors.label_next(limit=10, profile_id=FIRST_PROFILE_ID)
    names = {s.company.name for s in suggestions}
    assert names == {"Bravo Beers", "Copper Stouts", "Echo Review", "Foxtrot Fashion"}  # not labelled, not Golf
    by_name = {s.company.name: s for s in suggestions}
    assert all(s.reason in labelnext.REASONS and s.detail for s in suggestions)
    assert by_name["Bravo Beers"].company.score.value > 0.5  # the score is loaded with it
    assert "disagree" not in by_name["Bravo Beers"].detail  # its neighbours agree: Alpha, liked
    for suggestion in suggestions:  # a listed reason never denies what the row's band and sentence say
        if suggestion.reason != labelnext.UNEXPLORED:
            assert "none is close" not in suggestion.detail and "Nothing labelled is close" not in suggestion.detail
        assert "fit is" not in suggestion.detail  # the cell beside shows the fit, fresh after each verdict
        assert "0.0%" not in suggestion.detail and "many" not in suggestion.detail
        if suggestion.reason == labelnext.CONFIRM:
            assert "a verdict here checks this one" in suggestion.detail
    assert by_name["Foxtrot Fashion"].reason == labelnext.UNEXPLORED  # fashion: nothing labelled is close
    assert suggestions[0].reason == labelnext.UNEXPLORED  # unexplored first
    assert "Nothing labelled is close" in by_name["Foxtrot Fashion"].detail
    assert len(labelnext_selectors.label_next(limit=2, profile_id=FIRST_PROFILE_ID)) == 2


@pytest.mark.django_db
def test_before_the_first_scores_are_written_it_scores_a_sample_itself(world):
    Score.objects.all().delete()  # labels given, the full rescore not run yet
    suggestions = labelnext_selectors.label_next(limit=10, profile_id=FIRST_PROFILE_ID)
    assert {s.company.name for s in suggestions} == {"Bravo Beers", "Copper Stouts", "Echo Review", "Foxtrot Fashion"}
    assert all(s.reason in labelnext.REASONS for s in suggestions)


@pytest.mark.django_db
def test_with_nothing_labelled_it_suggests_a_spread_of_the_companies(fake_encoder):
    names = {
        "Alpha Brewing": "beer brewery lager", "Bravo Beers": "beer brewery ale", "Copper Stouts": "beer brewery stout",
        "Delta Code": "software developer tools", "Echo Review": "software developer review",
        "Foxtrot Fashion": "fashion clothing store",
    }  # fmt: skip
    made = [Company.objects.create(name=name, description=description) for name, description in names.items()]
    embeddings.embed_companies([c.pk for c in made])
    suggestions = labelnext_selectors.label_next(limit=3, profile_id=FIRST_PROFILE_ID)
    assert [s.company.name for s in suggestions] == [
        s.company.name for s in labelnext_selectors.cold_start_sample(3, profile_id=FIRST_PROFILE_ID)
    ]
    kinds = {s.company.description.split()[0] for s in suggestions}
    assert kinds == {"beer", "software", "fashion"}
    assert all(s.reason == labelnext.UNEXPLORED and "Nothing is labelled yet" in s.detail for s in suggestions)


@pytest.mark.django_db
def test_the_threshold_selector_reads_the_labelled_set(world):
    alpha, delta = embeddings_of(world["Alpha Brewing"]), embeddings_of(world["Delta Code"])
    # Two labelled companies: each is the other's nearest.
    assert labelnext_selectors.low_confidence_threshold(FIRST_PROFILE_ID) == pytest.approx(
        1.0 - alpha @ delta, abs=1e-6
    )


def embeddings_of(company: Company) -> np.ndarray:
    vector = np.array(company.embeddings.get().vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


@pytest.mark.django_db
def test_the_id_sample_is_the_same_for_a_seed_and_bounded(world):
    with connection.cursor() as cursor:
        cursor.execute("analyze leads_score")  # a real row estimate: the TABLESAMPLE path
    first = labelnext_selectors._sample_ids(Score._meta.db_table, 1, seed=3)
    assert first == labelnext_selectors._sample_ids(Score._meta.db_table, 1, seed=3)
    assert len(first) <= 2  # at most twice the size asked for


# --- The evaluation's simulated reps ----------------------------------------------------------


def synthetic_companies() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """240 companies in 6 topics; the rep likes the first two topics."""
    vectors, cluster = clusters([60, 20, 60, 40, 40, 20], dims=32, spread=0.1, seed=11)
    return vectors, {"synthetic": cluster < 2}


def test_the_simulated_reps_measure_every_strategy_at_every_budget():
    vectors, targets = synthetic_companies()
    measurements = evaluation.evaluate(vectors, targets, seeds=[1], budgets=[5, 15], every=3)
    assert [(m.strategy, m.labels) for m in measurements] == [
        (strategy, budget) for strategy in evaluation.STRATEGIES for budget in (5, 15)
    ]
    for m in measurements:
        assert 0.5 < m.auc <= 1.0 and 0.0 < m.ap <= 1.0  # topics this clear rank better than chance
        assert 0 <= m.likes_found <= m.labels
    at_seeds = [m for m in measurements if m.labels == 5]
    assert len({(m.auc, m.ap, m.likes_found) for m in at_seeds}) == 1  # the same seed labels for everyone
    assert measurements == evaluation.evaluate(vectors, targets, seeds=[1], budgets=[5, 15], every=3)


def test_a_strategy_never_labels_the_test_set_or_a_company_twice():
    vectors, targets = synthetic_companies()
    liked = targets["synthetic"]
    plan = evaluation.setup(liked, profile="synthetic", seed=2)
    assert len(plan.test) == 60 and not set(plan.test) & set(plan.seeds)
    assert liked[plan.seeds].tolist() == [True] * evaluation.SEED_LIKES + [False] * evaluation.SEED_DISLIKES
    for strategy in evaluation.STRATEGIES:
        runs = evaluation.simulate(
            vectors, liked, profile="synthetic", strategy=strategy, seed=2, budgets=[180], every=4
        )
        assert runs[-1].labels == 180  # every company outside the test set, each once


def test_the_summary_table_plot_and_json(tmp_path):
    vectors, targets = synthetic_companies()
    measurements = evaluation.evaluate(vectors, targets, seeds=[1, 2], budgets=[5, 10], every=5)
    summary = evaluation.summarise(measurements)
    assert {row["profile"] for row in summary} == {"synthetic", "all"}
    assert all(row["runs"] == 2 for row in summary)
    table = evaluation.format_table(summary, {"synthetic": 1 / 3})
    assert "synthetic (33%)" in table and "AUC@10" in table and "label-next" in table
    paired = evaluation.paired(measurements)
    assert [(row["against"], row["labels"], row["runs"]) for row in paired] == [
        ("top-of-list", 5, 2), ("top-of-list", 10, 2), ("random", 5, 2), ("random", 10, 2)
    ]  # fmt: skip
    assert paired[0]["auc_wins"] == 0  # at the seed labels alone they are the same scorer
    assert "label-next against random at 10 labels: AUC higher in" in evaluation.format_paired(paired)
    evaluation.draw(summary, tmp_path / "plot.png", prevalence={"synthetic": 1 / 3})
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads(json.dumps(evaluation.as_json(measurements, summary, seeds=[1, 2])))["config"]["seeds"] == [1, 2]


def test_profiles_read_tags(tmp_path):
    path = tmp_path / "yc.csv"
    path.write_text("company_name,tags\nA,\"['fintech', 'b2b']\"\nB,\"['b2b', 'saas']\"\nC,\n", encoding="utf-8")
    tags = evaluation.read_tags(path)
    assert tags == [frozenset({"fintech", "b2b"}), frozenset({"b2b", "saas"}), frozenset()]
    liked = evaluation.targets(tags, [evaluation.PROFILES["fintech"], evaluation.PROFILES["b2b-saas"]])
    assert liked["fintech"].tolist() == [True, False, False]
    assert liked["b2b-saas"].tolist() == [False, True, False]
