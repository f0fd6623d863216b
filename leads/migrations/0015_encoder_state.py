"""Encoders become switchable in place (manage.py switch_model).

The active encoder moves into the database (EncoderState), seeded from the encoder that made the
vectors already stored, else from EMBEDDING_MODEL. The vector column takes vectors of any size,
so that two encoders' vectors can live side by side while a switch runs; the single HNSW index
becomes one partial index per encoder, over its vectors cast to its size. Rebuilding that index
takes a while on a big database (4.2 minutes for a million companies on 2 cores)."""

import pgvector.django
from django.conf import settings
from django.db import migrations, models

from leads.embedding import encoders as embedding
from leads.models.encoders import HNSW_BUILD_MEMORY, hnsw_index_sql


def _column_dimensions(schema_editor) -> int | None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "select atttypmod from pg_attribute where attrelid = 'leads_companyembedding'::regclass"
            " and attname = 'vector'"
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] > 0 else None


def seed(apps, schema_editor):
    """The active encoder: the one whose vectors are most common (the database's own), else EMBEDDING_MODEL."""
    state = apps.get_model("leads", "EncoderState")
    vectors = apps.get_model("leads", "CompanyEmbedding")
    if state.objects.exists():
        return
    setting, dimensions = settings.EMBEDDING_MODEL or embedding.DEFAULT, settings.EMBEDDING_DIMENSIONS
    stored = (
        vectors.objects.values("model_name").annotate(n=models.Count("id")).order_by("-n").values_list("model_name", flat=True).first()
    )
    if stored and stored != embedding.encoder_for(setting, dimensions).stored_name:
        setting = embedding.setting_for(stored)
        dimensions = _column_dimensions(schema_editor) or embedding.encoder_for(setting).dimensions
    state.objects.create(id=1, active=setting, active_dimensions=dimensions)


def index(apps, schema_editor):
    """The active encoder's HNSW index (after the column change, which would rebuild it)."""
    state = apps.get_model("leads", "EncoderState").objects.get(id=1)
    stored_name = embedding.encoder_for(state.active, state.active_dimensions).stored_name
    schema_editor.execute(f"set local maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")  # in memory: faster, better
    schema_editor.execute(hnsw_index_sql(stored_name, state.active_dimensions, schema_editor.quote_value))


def drop_indexes(apps, schema_editor):
    """Backwards: every encoder's index goes (the column gets its fixed size back, and an index
    whose cast then does nothing would lose it and break the way forward)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "select indexname from pg_indexes where tablename = 'leads_companyembedding'"
            " and indexname like 'embedding_hnsw_%%'"
        )
        for (name,) in cursor.fetchall():
            schema_editor.execute(f'drop index if exists "{name}"')


class Migration(migrations.Migration):
    dependencies = [("leads", "0014_drop_score_neighbour_index")]

    operations = [
        migrations.CreateModel(
            name="EncoderState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("active", models.CharField(max_length=300)),
                ("active_dimensions", models.PositiveIntegerField()),
                ("target", models.CharField(blank=True, max_length=300)),
                ("target_dimensions", models.PositiveIntegerField(blank=True, null=True)),
                ("switch_started_at", models.DateTimeField(blank=True, null=True)),
                ("switched_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"constraints": [models.CheckConstraint(condition=models.Q(id=1), name="one_encoder_state")]},
        ),
        migrations.RemoveIndex(model_name="companyembedding", name="embedding_vector_hnsw"),
        migrations.RunPython(seed, migrations.RunPython.noop),  # reads the column's size before it goes
        migrations.AlterField(
            model_name="companyembedding", name="vector", field=pgvector.django.vector.VectorField()
        ),
        migrations.RunPython(index, drop_indexes),
    ]
