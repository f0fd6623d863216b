"""Drop the GIN index on the scores' neighbour ids. The incremental rescore finds the scores that
cite a changed company with a scan (0.15 s at a million scores); keeping the index up to date
cost ~8 µs on every rewritten score (0.45 s for a verdict that rewrites 55,000) and more in a
full rescore."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0013_industry_country_indexes'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='score',
            name='score_neighbour_ids',
        ),
    ]
