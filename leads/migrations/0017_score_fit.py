"""Fit and evidence beside every score (leads/scoring/evidence.py), the dashboard's order by fit, and the
team's radius of "close". Existing scores get theirs from a full rescore: the sweep starts one
(ScoringState.needs_full_rescore), and until then they read as unexplored with their score as fit."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0016_score_version'),
    ]

    operations = [
        migrations.AddField(model_name='score', name='fit', field=models.FloatField(default=0.0), preserve_default=False),
        migrations.AddField(model_name='score', name='evidence', field=models.FloatField(default=0.0), preserve_default=False),
        migrations.AddField(model_name='score', name='unexplored', field=models.BooleanField(default=True), preserve_default=False),
        migrations.AddField(model_name='score', name='supported', field=models.BooleanField(default=False), preserve_default=False),
        migrations.RunSQL("update leads_score set fit = least(value, 0)", migrations.RunSQL.noop),
        migrations.AddField(model_name='scoringstate', name='radius', field=models.FloatField(blank=True, null=True)),
        migrations.AddField(model_name='scoringstate', name='radius_companies', field=models.IntegerField(default=0)),
        # Moves after every committed write of scores (distribution.score_distribution's cache key):
        # leads_score_version moves at the statement, visible to readers before the commit.
        migrations.RunSQL("create sequence leads_score_published", "drop sequence leads_score_published"),
        migrations.RunSQL("update leads_scoringstate set needs_full_rescore = true", migrations.RunSQL.noop),
        # The change log records fits, what the dashboard shows (it logged plain scores).
        migrations.RenameField(model_name='scorechange', old_name='old_value', new_name='old_fit'),
        migrations.RenameField(model_name='scorechange', old_name='new_value', new_name='new_fit'),
        migrations.RemoveIndex(model_name='score', name='score_best_first'),
        migrations.AddIndex(model_name='score', index=models.Index(fields=['-fit', 'company'], name='score_best_fit_first')),
    ]
