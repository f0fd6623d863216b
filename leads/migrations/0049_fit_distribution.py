"""A profile's distribution of fits kept in the database (FitDistribution), made by the worker for
big profiles, and the number every write to a profile's scores moves (ScoringState.scores_written)
that says whether a kept one is still the profile's: pages of a million scores no longer sort
every fit after each pass (companies.distribution)."""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0048_map_version'),
    ]

    operations = [
        migrations.CreateModel(
            name='FitDistribution',
            fields=[
                ('profile', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='leads.profile')),
                ('quantiles', django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), size=None)),
                ('total', models.IntegerField()),
                ('scores_written', models.BigIntegerField()),
                ('computed_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.AddField(
            model_name='scoringstate',
            name='scores_written',
            field=models.BigIntegerField(default=0),
        ),
    ]
