from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from leads import roles
from leads.models import Company
from leads.services.imports import create_job, run_import

DEMO_CSV = Path(__file__).resolve().parents[2] / "demo" / "companies.csv"
DEMO_USER, DEMO_PASSWORD = "demo", "leads-demo"
# One demo user per role (leads.roles), same password: what each role sees.
ROLE_USERS = {"rep": roles.REP, "manager": roles.MANAGER, "admin": roles.ADMIN}


class Command(BaseCommand):
    help = "Create the demo users (a superuser and one per role) and, on an empty database, import the demo companies."

    def handle(self, *args, **options):
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USER).first()
        if user is None:
            user = User.objects.create_superuser(DEMO_USER, "demo@example.com", DEMO_PASSWORD)
        for username, role in ROLE_USERS.items():
            if not User.objects.filter(username=username).exists():
                member = User.objects.create_user(username, f"{username}@example.com", DEMO_PASSWORD)
                member.groups.set([Group.objects.get(name=role)])
        if not Company.objects.exists():
            job = run_import(create_job(path=DEMO_CSV, user=user))
            self.stdout.write(f"Imported {job.created} demo companies ({job.labels} already labelled).")
        self.stdout.write(self.style.SUCCESS(f"Log in as '{DEMO_USER}' with password '{DEMO_PASSWORD}'."))
        roles_text = ", ".join(f"'{username}' ({role})" for username, role in ROLE_USERS.items())
        self.stdout.write(f"Each role has a demo user with the same password: {roles_text}.")
