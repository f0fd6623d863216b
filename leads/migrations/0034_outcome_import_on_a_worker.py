"""A deals file is imported by a worker, like a companies file: its states are the companies
import's (queued and running join them), and it counts rows read under the same name."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0033_score_version_column"),
    ]

    operations = [
        migrations.RenameField(model_name="outcomeimport", old_name="rows", new_name="rows_read"),
        migrations.AddField(
            model_name="outcomeimport",
            name="rows_estimate",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="outcomeimport",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "Waiting for confirmation"),
                    ("queued", "Queued"),
                    ("running", "Importing"),
                    ("done", "Imported"),
                    ("failed", "Failed"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
    ]
