"""An index on when each vector was written (its transaction's start): a worker's copy of the
vectors reads what was written since it last looked (scoring.vector_copy)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0049_fit_distribution"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="companyembedding",
            index=models.Index(fields=["created_at"], name="embedding_written"),
        ),
    ]
