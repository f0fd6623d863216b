from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.core import checks
        from django.db.models.signals import post_migrate, post_save

        # Here, once the app registry is loaded: these import the models.
        from leads.accounts import roles
        from leads.embedding import active

        checks.register(active.setting_matches_the_database)

        post_migrate.connect(roles.sync_groups_after_migrate, sender=self, dispatch_uid="leads.sync_groups")
        post_save.connect(roles.add_new_user_to_reps, sender=get_user_model(), dispatch_uid="leads.new_user_is_a_rep")
