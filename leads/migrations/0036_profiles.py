"""Ideal-customer profiles (#28): the first profile, "Ideal customers", takes every label, current
verdict, score, pending change, score change and the scoring state there were; no score is
computed again. The primary keys of the score and pending-change tables become (profile, company):
Django cannot alter a primary key into a composite one, so the tables are changed in SQL and
the models' state follows."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FIRST = 1

SQL = """
insert into leads_profile (id, name, created_at) values (1, 'Ideal customers', now()) on conflict do nothing;
select setval(pg_get_serial_sequence('leads_profile', 'id'), greatest((select max(id) from leads_profile), 1));

create table leads_currentverdict (
    profile_id bigint not null references leads_profile (id) deferrable initially deferred,
    company_id bigint not null references leads_company (id) deferrable initially deferred,
    verdict varchar(10) not null,
    given_at timestamp with time zone not null,
    primary key (profile_id, company_id)
);
create index current_verdict_company on leads_currentverdict (company_id);
insert into leads_currentverdict (profile_id, company_id, verdict, given_at)
select 1, c.id, c.verdict, coalesce(
    (select max(l.created_at) from leads_label l where l.company_id = c.id), c.updated_at
) from leads_company c where c.verdict <> '';
drop index if exists company_labelled;
alter table leads_company drop column verdict;  -- and the number indexes that carried it: made again without
create index company_employees on leads_company (employees, id) include (founded, revenue) where employees is not null;
create index company_founded on leads_company (founded, id) include (employees, revenue) where founded is not null;
create index company_revenue on leads_company (revenue, id) include (employees, founded) where revenue is not null;

alter table leads_label add column profile_id bigint not null default 1
    references leads_profile (id) deferrable initially deferred;
alter table leads_label alter column profile_id drop default;
drop index if exists leads_label_company_a544b4_idx;
create index label_company_latest on leads_label (company_id, profile_id, created_at desc);

alter table leads_score add column profile_id bigint not null default 1
    references leads_profile (id) deferrable initially deferred;
alter table leads_score alter column profile_id drop default;
alter table leads_score drop constraint leads_score_pkey;
alter table leads_score add primary key (profile_id, company_id);
drop index if exists score_best_fit_first;
create index score_best_fit_first on leads_score (profile_id, fit desc, company_id);
drop index if exists score_version;
create index score_version on leads_score (profile_id, version);
create index score_company on leads_score (company_id);

alter table leads_pendingscorechange add column profile_id bigint not null default 1
    references leads_profile (id) deferrable initially deferred;
alter table leads_pendingscorechange alter column profile_id drop default;
alter table leads_pendingscorechange drop constraint leads_pendingscorechange_pkey;
alter table leads_pendingscorechange add primary key (profile_id, company_id);

alter table leads_scorechange add column profile_id bigint not null default 1
    references leads_profile (id) deferrable initially deferred;
alter table leads_scorechange alter column profile_id drop default;

delete from leads_scoringstate where id <> 1;
alter table leads_scoringstate add column profile_id bigint not null default 1 unique
    references leads_profile (id) deferrable initially deferred;
alter table leads_scoringstate alter column profile_id drop default;
"""

# Back to one set of verdicts: the first profile's (the others' labels, verdicts and scores go).
REVERSE_SQL = """
alter table leads_company add column verdict varchar(10) not null default '';
update leads_company c set verdict = v.verdict from leads_currentverdict v where v.company_id = c.id and v.profile_id = 1;
alter table leads_company alter column verdict drop default;
create index company_labelled on leads_company (verdict) where not (verdict = '');
drop index company_employees, company_founded, company_revenue;
create index company_employees on leads_company (employees, id) include (founded, revenue, verdict) where employees is not null;
create index company_founded on leads_company (founded, id) include (employees, revenue, verdict) where founded is not null;
create index company_revenue on leads_company (revenue, id) include (employees, founded, verdict) where revenue is not null;
drop table leads_currentverdict;

delete from leads_label where profile_id <> 1;
alter table leads_label drop column profile_id;
create index leads_label_company_a544b4_idx on leads_label (company_id, created_at desc);

delete from leads_score where profile_id <> 1;
alter table leads_score drop column profile_id;
alter table leads_score add primary key (company_id);
drop index if exists score_company;
create index score_best_fit_first on leads_score (fit desc, company_id);
create index score_version on leads_score (version);

delete from leads_pendingscorechange where profile_id <> 1;
alter table leads_pendingscorechange drop column profile_id;
alter table leads_pendingscorechange add primary key (company_id);

delete from leads_scorechange where profile_id <> 1;
alter table leads_scorechange drop column profile_id;

delete from leads_scoringstate where profile_id <> 1;
alter table leads_scoringstate drop column profile_id;
delete from leads_profile;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0035_number_indexes_cover_ranges"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Profile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=80, unique=True)),
                ("archived_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["pk"],
            },
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(SQL, REVERSE_SQL)],
            state_operations=[
                migrations.CreateModel(
                    name="CurrentVerdict",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "profile", "company", blank=True, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        (
                            "verdict",
                            models.CharField(choices=[("like", "Liked"), ("dislike", "Disliked")], max_length=10),
                        ),
                        ("given_at", models.DateTimeField()),
                    ],
                ),
                migrations.RemoveIndex(
                    model_name="company",
                    name="company_labelled",
                ),
                migrations.RemoveIndex(
                    model_name="label",
                    name="leads_label_company_a544b4_idx",
                ),
                migrations.RemoveIndex(
                    model_name="score",
                    name="score_best_fit_first",
                ),
                migrations.RemoveIndex(
                    model_name="score",
                    name="score_version",
                ),
                *(
                    migrations.RemoveIndex(model_name="company", name=f"company_{column}")
                    for column in ("employees", "founded", "revenue")
                ),
                *(
                    migrations.AddIndex(
                        model_name="company",
                        index=models.Index(
                            condition=models.Q((f"{column}__isnull", False)),
                            fields=[column, "id"],
                            include=[other for other in ("employees", "founded", "revenue") if other != column],
                            name=f"company_{column}",
                        ),
                    )
                    for column in ("employees", "founded", "revenue")
                ),
                migrations.RemoveField(
                    model_name="company",
                    name="verdict",
                ),
                migrations.AddField(
                    model_name="pendingscorechange",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "profile", "company_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                migrations.AddField(
                    model_name="score",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "profile", "company", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                migrations.AlterField(
                    model_name="pendingscorechange",
                    name="company_id",
                    field=models.BigIntegerField(),
                ),
                migrations.AlterField(
                    model_name="score",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scores",
                        to="leads.company",
                    ),
                ),
                migrations.AddField(
                    model_name="currentverdict",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="verdicts",
                        to="leads.company",
                    ),
                ),
                migrations.AddField(
                    model_name="currentverdict",
                    name="profile",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="leads.profile",
                    ),
                ),
                migrations.AddField(
                    model_name="label",
                    name="profile",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="labels",
                        to="leads.profile",
                    ),
                ),
                migrations.AddField(
                    model_name="pendingscorechange",
                    name="profile",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="leads.profile",
                    ),
                ),
                migrations.AddField(
                    model_name="score",
                    name="profile",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="leads.profile",
                    ),
                ),
                migrations.AddField(
                    model_name="scorechange",
                    name="profile",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="leads.profile",
                    ),
                ),
                migrations.AddField(
                    model_name="scoringstate",
                    name="profile",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="leads.profile"
                    ),
                ),
                migrations.AddIndex(
                    model_name="label",
                    index=models.Index(fields=["company", "profile", "-created_at"], name="label_company_latest"),
                ),
                migrations.AddIndex(
                    model_name="score",
                    index=models.Index(fields=["profile", "-fit", "company"], name="score_best_fit_first"),
                ),
                migrations.AddIndex(
                    model_name="score",
                    index=models.Index(fields=["profile", "version"], name="score_version"),
                ),
                migrations.AddIndex(
                    model_name="score",
                    index=models.Index(fields=["company"], name="score_company"),
                ),
                migrations.AddIndex(
                    model_name="currentverdict",
                    index=models.Index(fields=["company"], name="current_verdict_company"),
                ),
            ],
        ),
    ]
