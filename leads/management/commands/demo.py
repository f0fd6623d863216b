from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from leads.accounts import roles
from leads.imports.services import create_job, run_import
from leads.models import Company

DEMO_CSV = Path(__file__).resolve().parents[2] / "demo" / "companies.csv"
DEMO_USER, DEMO_PASSWORD = "demo", "leads-demo"
# One demo user per role (leads.accounts.roles), same password: what each role sees.
ROLE_USERS = {"rep": roles.REP, "manager": roles.MANAGER, "admin": roles.ADMIN}


class Command(BaseCommand):
    help = (
        "On a fresh database (no users, no companies) create the demo users (a superuser and one per role) "
        "and import the demo companies; on any other, do nothing."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        # `make run` runs this on every start: a demo user an operator deleted, or an empty company
        # list, must stay so. Only a database nobody has used yet gets the demo.
        if User.objects.exists() or Company.objects.exists():
            self.stdout.write("The database is in use: no demo users or companies added.")
            return
        user = User.objects.create_superuser(DEMO_USER, "demo@example.com", DEMO_PASSWORD)
        for username, role in ROLE_USERS.items():
            member = User.objects.create_user(username, f"{username}@example.com", DEMO_PASSWORD)
            member.groups.set([Group.objects.get(name=role)])
        job = run_import(create_job(path=DEMO_CSV, user=user))
        self.stdout.write(f"Imported {job.created} demo companies ({job.labels} already labelled).")
        self.stdout.write(self.style.SUCCESS(f"Log in as '{DEMO_USER}' with password '{DEMO_PASSWORD}'."))
        roles_text = ", ".join(f"'{username}' ({role})" for username, role in ROLE_USERS.items())
        self.stdout.write(f"Each role has a demo user with the same password: {roles_text}.")
