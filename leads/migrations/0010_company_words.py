"""Descriptions become searchable: the words of every embedded company (CompanyWords), filled
here for the companies embedded before, then indexed (building the index after filling is faster
than filling an indexed table)."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
insert into leads_companywords (company_id, words)
select id, to_tsvector('simple', concat_ws(' ', name, industry, description)) from leads_company c
where exists (select 1 from leads_companyembedding e where e.company_id = c.id)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0009_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name="CompanyWords",
            fields=[
                (
                    "company",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="words",
                        serialize=False,
                        to="leads.company",
                    ),
                ),
                ("words", django.contrib.postgres.search.SearchVectorField()),
            ],
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="companywords",
            index=django.contrib.postgres.indexes.GinIndex(fields=["words"], name="company_words_search"),
        ),
    ]
