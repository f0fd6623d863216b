"""A number that moves on every write to the scores (a statement-level trigger takes the next
value of leads_score_version), so that the incremental pass can keep every score's k-th distance
in memory and know when another writer has changed one (scoring.thresholds). And the
pending change's `moved` flag: a labelled company re-embedded."""

from django.db import migrations, models

BUMP = """
create sequence leads_score_version;
create function leads_score_written() returns trigger language plpgsql as $$
begin
    perform nextval('leads_score_version');
    return null;
end $$;
create trigger leads_score_written after insert or update or delete or truncate on leads_score
    for each statement execute function leads_score_written();
"""

UNBUMP = """
drop trigger leads_score_written on leads_score;
drop function leads_score_written();
drop sequence leads_score_version;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0015_encoder_state'),
    ]

    operations = [
        migrations.AddField(
            model_name='pendingscorechange',
            name='moved',
            field=models.BooleanField(default=False),
        ),
        # Changes pending from before this migration may be moved companies: scan for their citers.
        migrations.RunSQL("update leads_pendingscorechange set moved = entered", migrations.RunSQL.noop),
        migrations.RunSQL(BUMP, UNBUMP),
    ]
