"""Roles: the app's permissions on Company, the three groups (leads.accounts.roles), and a role for every
account that exists already: staff become sales managers, the others sales reps."""

from django.db import migrations

from leads.accounts import roles


def create_roles(apps, schema_editor):
    roles.create_permissions(apps)
    roles.sync_groups(apps)
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("auth", "User")
    reps, managers = Group.objects.get(name=roles.REP), Group.objects.get(name=roles.MANAGER)
    for user in User.objects.filter(is_superuser=False):
        user.groups.add(managers if user.is_staff else reps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("axes", "0010_accessattemptexpiration"),
        ("leads", "0008_review"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="company",
            options={
                "ordering": ["name"],
                "permissions": [
                    ("label_company", "Can like, dislike and clear companies"),
                    ("import_companies", "Can import companies"),
                    ("review_labels", "Can review labels and scored companies"),
                    ("change_scoring_settings", "Can change scoring settings"),
                    ("open_admin", "Can open the admin site"),
                ],
                "verbose_name_plural": "companies",
            },
        ),
        migrations.RunPython(create_roles, migrations.RunPython.noop),
    ]
