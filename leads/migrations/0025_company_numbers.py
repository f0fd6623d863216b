"""Typed numbers beside the text imports keep in Company.extra: employees, founded (a year) and
revenue (whole currency units), each with a partial index (only the companies that have one), and
the import's count of values it could not read as numbers. Existing companies get their numbers
from the text they already keep in extra."""

import json

from django.db import migrations, models

from leads.imports.numbers import read_numbers

BATCH = 5_000


def read_kept_numbers(apps, schema_editor):
    """Fill the new columns from extra's employees, founded and revenue, in batches by id."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "select id, extra from leads_company where extra ?| array['employees', 'founded', 'revenue'] order by id"
        )
        rows = [(pk, read_numbers(json.loads(extra) if isinstance(extra, str) else extra)) for pk, extra in cursor.fetchall()]
        rows = [(pk, n) for pk, n in rows if (n.employees, n.founded, n.revenue) != (None, None, None)]
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            cursor.execute(
                "update leads_company c set employees = v.employees, founded = v.founded, revenue = v.revenue"
                " from unnest(%s::bigint[], %s::integer[], %s::smallint[], %s::bigint[])"
                " as v(id, employees, founded, revenue) where c.id = v.id",
                [
                    [pk for pk, _ in batch],
                    *([getattr(n, f) for _, n in batch] for f in ("employees", "founded", "revenue")),
                ],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0024_company_owner_notes"),
    ]

    operations = [
        migrations.AddField(
            model_name="company",
            name="employees",
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="company",
            name="founded",
            field=models.SmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="company",
            name="revenue",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="importjob",
            name="unreadable",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(
                condition=models.Q(("employees__isnull", False)), fields=["employees"], name="company_employees"
            ),
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(
                condition=models.Q(("founded__isnull", False)), fields=["founded"], name="company_founded"
            ),
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(
                condition=models.Q(("revenue__isnull", False)), fields=["revenue"], name="company_revenue"
            ),
        ),
        migrations.RunPython(read_kept_numbers, migrations.RunPython.noop),
    ]
