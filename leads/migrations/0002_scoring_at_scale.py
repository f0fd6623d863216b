"""Incremental scoring: label sources, scores as searchable arrays, pending changes, search index."""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.conf import settings
from django.db import migrations, models

# Existing scores keep their values: their JSON neighbours become the arrays.
_NEIGHBOURS_TO_ARRAYS = f"""
update leads_score set
    neighbour_ids = array(select (n->>'company_id')::bigint from jsonb_array_elements(neighbours) n),
    neighbour_distances = array(select (n->>'distance')::float8 from jsonb_array_elements(neighbours) n),
    neighbour_labels = array(select (n->>'label')::float8 from jsonb_array_elements(neighbours) n),
    kth_distance = case when jsonb_array_length(neighbours) >= {int(settings.SCORING_K)}
                        then (neighbours->-1->>'distance')::float8 else 'Infinity' end
"""


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="PendingScoreChange",
            fields=[
                ("company_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.AddField(
            model_name="label",
            name="source",
            field=models.CharField(
                choices=[("click", "Dashboard click"), ("api", "API call"), ("import", "Import"), ("admin", "Admin action")],
                default="click",
                max_length=10,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="score",
            name="neighbour_ids",
            field=django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), default=list, size=None),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="score",
            name="neighbour_distances",
            field=django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), default=list, size=None),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="score",
            name="neighbour_labels",
            field=django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), default=list, size=None),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="score",
            name="kth_distance",
            field=models.FloatField(default=float("inf")),
            preserve_default=False,
        ),
        migrations.RunSQL(_NEIGHBOURS_TO_ARRAYS, migrations.RunSQL.noop),
        migrations.RemoveField(model_name="score", name="neighbours"),
        migrations.AddIndex(
            model_name="score",
            index=django.contrib.postgres.indexes.GinIndex(fields=["neighbour_ids"], name="score_neighbour_ids"),
        ),
        migrations.RemoveField(model_name="scoringstate", name="labels_version"),
        migrations.RemoveField(model_name="scoringstate", name="scored_version"),
        migrations.AddField(model_name="scoringstate", name="chunks_left", field=models.IntegerField(default=0)),
        migrations.AddField(
            model_name="scoringstate", name="needs_full_rescore", field=models.BooleanField(default=True)
        ),
        migrations.AddField(
            model_name="scoringstate", name="full_started_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddIndex(
            model_name="company",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector(
                    "name",
                    models.Func(
                        models.F("domain"),
                        models.Value("[.\\-]"),
                        models.Value(" "),
                        models.Value("g"),
                        function="regexp_replace",
                    ),
                    config="simple",
                ),
                name="company_name_domain_search",
            ),
        ),
    ]
