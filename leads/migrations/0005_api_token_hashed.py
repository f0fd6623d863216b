"""API tokens: store a SHA-256 of each key instead of the key, plus its first characters
(to tell tokens apart) and when it was last used. Existing keys keep working: they are hashed."""

import hashlib

import django.utils.timezone
from django.db import migrations, models


def hash_keys(apps, schema_editor):
    ApiToken = apps.get_model("leads", "ApiToken")
    for token in ApiToken.objects.all():
        # The same hash as ApiToken.hash(), written out: a migration must not change with the model.
        token.key_hash = hashlib.sha256(token.key.encode("utf-8", "replace")).hexdigest()
        token.prefix = token.key[:8]
        token.save(update_fields=["key_hash", "prefix"])


def forget_tokens(apps, schema_editor):
    # Going back: the plain keys are gone, so the tokens go too; reps make new ones.
    apps.get_model("leads", "ApiToken").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0004_pending_change_entered'),
    ]

    operations = [
        migrations.AddField(
            model_name='apitoken',
            name='key_hash',
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='apitoken',
            name='prefix',
            field=models.CharField(default='', max_length=8),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='apitoken',
            name='last_used_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='apitoken',
            name='created_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(hash_keys, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='apitoken',
            name='key',
        ),
        migrations.AlterField(
            model_name='apitoken',
            name='key_hash',
            field=models.CharField(max_length=64, unique=True),
        ),
        migrations.AlterModelOptions(
            name='apitoken',
            options={'verbose_name': 'API token'},
        ),
        # Last, so that going back deletes the tokens before the plain `key` column returns.
        migrations.RunPython(migrations.RunPython.noop, forget_tokens),
    ]
