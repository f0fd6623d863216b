"""Migration 0036 (#28): the first profile takes every label, current verdict, score (its
neighbours and version too), pending change, score change and the scoring state a team had; no
score is computed again. Back again, the first profile's verdicts are the companies' verdicts.
Runs on the real test database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("leads", "0035_number_indexes_cover_ranges")]
AFTER = [("leads", "0036_profiles")]


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.fixture
def before_0036():
    migrate(BEFORE)
    yield
    migrate(latest())


def make_a_team() -> dict[str, int]:
    """What 0035 stored for a team with three companies: two labelled (one cleared and liked again), one scored."""
    ids = {}
    for name, verdict in (("Alpha", "like"), ("Bravo", "dislike"), ("Copper", "")):
        (ids[name],) = rows(
            "insert into leads_company (name, website, domain, dedupe_key, description, industry, country,"
            " country_as_given, extra, text_hash, verdict, created_at, updated_at) values"
            " (%s, '', '', %s, '', '', '', '', '{}', 'h', %s, now(), now()) returning id",
            [name, name.lower(), verdict],
        )[0]
    for name, verdict, minutes in (
        ("Alpha", "like", 30),
        ("Alpha", "clear", 20),
        ("Alpha", "like", 10),
        ("Bravo", "dislike", 5),
    ):
        rows(
            "insert into leads_label (company_id, user_id, verdict, source, created_at)"
            " values (%s, null, %s, 'click', now() - make_interval(mins => %s)) returning id",
            [ids[name], verdict, minutes],
        )
    rows(
        "insert into leads_score (company_id, value, fit, evidence, unexplored, supported, neighbour_ids,"
        " neighbour_distances, neighbour_labels, kth_distance, computed_at, version)"
        " values (%s, 0.25, 0.125, 1.5, false, true, %s, '{0.1,0.3}', '{1,-1}', 'Infinity', now(), 7) returning company_id",
        [ids["Copper"], [ids["Alpha"], ids["Bravo"]]],
    )
    rows(
        "insert into leads_pendingscorechange (company_id, entered, moved, created_at) values (%s, true, false, now())"
        " returning company_id",
        [ids["Alpha"]],
    )
    rows(
        "insert into leads_scoringstate (id, chunks_left, needs_full_rescore, k, radius, radius_companies, updated_at)"
        " values (1, 0, false, 10, 0.42, 3, now()) returning id"
    )
    return ids


def test_the_first_profile_takes_everything_and_nothing_is_lost(before_0036):
    ids = make_a_team()
    score_before = rows("select value, fit, evidence, neighbour_ids, neighbour_distances, version from leads_score")
    migrate(AFTER)
    assert rows("select id, name, archived_at from leads_profile") == [(1, "Ideal customers", None)]
    assert rows("select distinct profile_id from leads_label") == [(1,)]
    assert rows("select count(*) from leads_label") == [(4,)]
    verdicts = rows(
        "select company_id, verdict, given_at from leads_currentverdict where profile_id = 1 order by company_id"
    )
    assert [(company, verdict) for company, verdict, _ in verdicts] == [
        (ids["Alpha"], "like"),
        (ids["Bravo"], "dislike"),
    ]
    latest_labels = dict(rows("select company_id, max(created_at) from leads_label group by company_id"))
    assert all(given_at == latest_labels[company] for company, _, given_at in verdicts)  # the latest-verdict order
    assert (
        rows("select value, fit, evidence, neighbour_ids, neighbour_distances, version from leads_score")
        == score_before
    )
    assert rows("select profile_id, company_id from leads_score") == [(1, ids["Copper"])]
    assert rows("select profile_id, company_id, entered from leads_pendingscorechange") == [(1, ids["Alpha"], True)]
    assert rows("select profile_id, k, radius from leads_scoringstate") == [(1, 10, 0.42)]
    columns = [
        row[0] for row in rows("select column_name from information_schema.columns where table_name = 'leads_company'")
    ]
    assert "verdict" not in columns

    migrate(BEFORE)  # and back: the first profile's verdicts are the companies' again
    assert dict(rows("select id, verdict from leads_company")) == {
        ids["Alpha"]: "like",
        ids["Bravo"]: "dislike",
        ids["Copper"]: "",
    }
    assert rows("select count(*) from leads_label") == [(4,)]
    assert (
        rows("select value, fit, evidence, neighbour_ids, neighbour_distances, version from leads_score")
        == score_before
    )


def test_0042_and_0043_move_scores_into_partitions_and_kept_bands_into_a_profile_keep_everything():
    """0042: the scores go into their profile's partition, unchanged; 0043: the band kept on a deal
    becomes the first profile's OutcomeBand; both run back."""
    migrate([("leads", "0041_outcome_settings_per_profile")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "insert into leads_profile (id, name, created_at) values (1, 'Ideal customers', now())"
                " on conflict do nothing"
            )
            cursor.execute(
                "insert into leads_company (name, description, domain, dedupe_key, text_hash, extra, created_at,"
                " updated_at, country, country_as_given, website, industry)"
                " values ('Acme', 'a', 'acme.com', 'domain:acme.com', 'h', '{}', now(), now(), '', '', '', '') returning id"
            )
            (acme,) = cursor.fetchone()
            cursor.execute(
                "insert into leads_score (profile_id, company_id, value, fit, evidence, unexplored, supported,"
                " neighbour_ids, neighbour_distances, neighbour_labels, kth_distance, computed_at, version)"
                " values (1, %s, 0.5, 0.25, 1.5, false, true, '{7}', '{0.1}', '{1}', 0.1, now(), 3)",
                [acme],
            )
            cursor.execute(
                "insert into leads_outcome (company_id, crm, deal_id, deal_name, stage, stage_as_written, currency,"
                " matched_by, created_at, updated_at, decided_at, read_before, snapshot_before, band_before, top_before)"
                " values (%s, 'hubspot', '9001', '', 'won', 'won', '', 'name', now(), now(), now(), true,"
                " '2024-03-01', 'strong', 0.03) returning id",
                [acme],
            )
            (deal,) = cursor.fetchone()
        score = rows("select profile_id, company_id, value, fit, neighbour_ids, version from leads_score")
        migrate(latest())
        assert rows("select relkind from pg_class where relname = 'leads_score'") == [("p",)]
        assert (
            rows("select profile_id, company_id, value, fit, neighbour_ids, version from leads_score_profile_1")
            == score
        )
        assert rows(
            "select profile_id, outcome_id, snapshot_before::text, band_before, top_before from leads_outcomeband"
        ) == [(1, deal, "2024-03-01", "strong", 0.03)]
        migrate([("leads", "0041_outcome_settings_per_profile")])
        assert rows("select relkind from pg_class where relname = 'leads_score'") == [("r",)]
        assert rows("select profile_id, company_id, value, fit, neighbour_ids, version from leads_score") == score
        assert rows("select read_before, snapshot_before::text, band_before, top_before from leads_outcome") == [
            (True, "2024-03-01", "strong", 0.03)
        ]
    finally:
        migrate(latest())


def test_0044_numbers_profile_names_that_differ_only_in_case_and_keeps_them():
    migrate([("leads", "0043_outcome_band_per_profile")])
    made = []
    try:
        for name in ("Payments", "PAYMENTS", "payments", "Lending"):
            made += rows("insert into leads_profile (name, created_at) values (%s, now()) returning id", [name])
        migrate([("leads", "0044_profile_name_any_case")])
        ids = [pk for (pk,) in made]
        names = rows("select name from leads_profile where id = any(%s) order by id", [ids])
        assert [name for (name,) in names] == ["Payments", "PAYMENTS (2)", "payments (3)", "Lending"]
    finally:
        for (pk,) in made:  # the profile and the score partition its trigger made
            rows("delete from leads_profile where id = %s returning id", [pk])
            with connection.cursor() as cursor:
                cursor.execute(f"drop table if exists leads_score_profile_{int(pk)}")
        migrate(latest())
