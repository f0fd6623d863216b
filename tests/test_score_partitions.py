"""Scores are partitioned by profile (#28, migration 0042): each profile's scores in a table of its
own, made with the profile however it is inserted, so that one profile's scans read its rows only,
and making a profile never waits for another profile's scoring."""

from __future__ import annotations

import re

import psycopg
import pytest
from django.db import connection

from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company, Profile, Score
from leads.scoring import labels
from leads.scoring import services as scores

TEXTS = ["beer brewery lager", "beer brewery stout", "software developer tools", "fashion clothing store",
         "bank lending finance", "payments card terminals"]  # fmt: skip


def partitions() -> dict[str, str]:
    """Each partition of leads_score and the values it takes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select c.relname, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i"
            " join pg_class c on c.oid = i.inhrelid where i.inhparent = 'leads_score'::regclass"
        )
        return dict(cursor.fetchall())


def rows_in(table: str, profile_id: int | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"select count(*) from {table}" + ("" if profile_id is None else f" where profile_id = {profile_id}")
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_each_profile_has_its_own_partition_and_its_scores_live_there(fake_encoder, alice):
    with connection.cursor() as cursor:
        cursor.execute("select relkind from pg_class where oid = 'leads_score'::regclass")
        assert cursor.fetchone()[0] == "p"
    first = Profile.first()
    second = Profile.objects.create(name="Software buyers")  # the ORM, as the admin does: no partition code
    assert partitions() == {
        Score.partition(FIRST_PROFILE_ID): f"FOR VALUES IN ('{FIRST_PROFILE_ID}')",
        Score.partition(second.pk): f"FOR VALUES IN ('{second.pk}')",
    }
    companies = [Company.objects.create(name=f"c{i}", description=text) for i, text in enumerate(TEXTS)]
    embeddings.embed_companies([c.pk for c in companies])
    for profile, liked, disliked in ((first, 0, 3), (second, 2, 0)):
        for company, verdict in ((companies[liked], "like"), (companies[disliked], "dislike")):
            labels.label_company(profile_id=profile.pk, company=company, user=alice, source="click", verdict=verdict)
        scores.apply_label_changes(profile.pk, inline_full=True)
    for profile in (first, second):
        count = Score.objects.filter(profile=profile).count()
        assert count == len(TEXTS) - 2
        assert rows_in(Score.partition(profile.pk)) == count  # all of them, and only them
        assert rows_in(Score.partition(profile.pk), profile.pk) == count
    # One profile's scan reads its partition only: the plan names no other.
    with connection.cursor() as cursor:
        cursor.execute(
            "explain select company_id from leads_score where profile_id = %s and neighbour_ids && %s::bigint[]",
            [second.pk, [companies[2].pk]],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert set(re.findall(r"leads_score_profile_\d+", plan)) == {Score.partition(second.pk)}


@pytest.mark.django_db(transaction=True)
def test_making_a_profile_does_not_wait_for_another_profiles_scoring(fake_encoder, alice):
    company = Company.objects.create(name="Brew", description="beer brewery lager")
    other = Company.objects.create(name="Shop", description="fashion clothing store")
    embeddings.embed_companies([company.pk, other.pk])
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=company, user=alice, source="click", verdict="like")
    scores.apply_label_changes(FIRST_PROFILE_ID)
    settings = connection.get_connection_params()
    settings.pop("cursor_factory", None)
    settings.pop("context", None)
    with psycopg.connect(**settings) as scoring:  # a pass of the first profile, mid-write
        scoring.execute("update leads_score set fit = fit where profile_id = %s", [FIRST_PROFILE_ID])
        with connection.cursor() as cursor:
            cursor.execute("set lock_timeout = '3s'")  # a wait for the pass would fail here
            made = Profile.objects.create(name="Lending US")
            cursor.execute("reset lock_timeout")
        scoring.rollback()
    assert Score.partition(made.pk) in partitions()
    # Made again after a flush (the same id, its table kept): the trigger leaves the table as it is.
    Profile.objects.filter(pk=made.pk).delete()
    Profile.objects.create(pk=made.pk, name="Lending US again")
    assert Score.partition(made.pk) in partitions()
