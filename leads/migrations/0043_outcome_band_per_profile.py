"""A deal's band before it, per profile (#28): the bands the proof kept on each outcome (those of
the first profile) move to OutcomeBand, a row a profile and deal, so that every profile's report
reads no snapshot twice. Nothing is read again."""

import django.db.models.deletion
from django.db import migrations, models

COPY = """
insert into leads_outcomeband (profile_id, outcome_id, snapshot_before, band_before, top_before)
select 1, id, snapshot_before, band_before, top_before from leads_outcome
where read_before and exists (select from leads_profile where id = 1)
"""

# Back to the first profile's bands kept on the deals (the other profiles' are read again).
COPY_BACK = """
update leads_outcome o set read_before = true, snapshot_before = b.snapshot_before, band_before = b.band_before,
    top_before = b.top_before
from leads_outcomeband b where b.outcome_id = o.id and b.profile_id = 1
"""


class Migration(migrations.Migration):
    dependencies = [("leads", "0042_score_partitions")]

    operations = [
        migrations.CreateModel(
            name="OutcomeBand",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "profile", "outcome", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("snapshot_before", models.DateField(blank=True, null=True)),
                ("band_before", models.CharField(blank=True, max_length=10)),
                ("top_before", models.FloatField(blank=True, null=True)),
                (
                    "outcome",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="bands_before", to="leads.outcome"
                    ),
                ),
                (
                    "profile",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="leads.profile",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(COPY, COPY_BACK),
        migrations.RemoveField(model_name="outcome", name="band_before"),
        migrations.RemoveField(model_name="outcome", name="read_before"),
        migrations.RemoveField(model_name="outcome", name="snapshot_before"),
        migrations.RemoveField(model_name="outcome", name="top_before"),
    ]
