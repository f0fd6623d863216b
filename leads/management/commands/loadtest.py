import json

from django.core.management.base import BaseCommand, CommandError

from leads.bench import loadtest


class Command(BaseCommand):
    help = (
        "Reps labelling at once through the API of the server running on this machine (make run), "
        "then checks that every label was stored once, verdicts match the history and scores caught up. "
        "Prints JSON; exits 1 if a check failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server (loopback only)")
        parser.add_argument("--reps", type=int, default=20, help="concurrent reps (threads)")
        parser.add_argument("--requests", type=int, default=400, help="label requests in all")
        parser.add_argument("--companies", type=int, default=20, help="unlabelled companies they label")
        parser.add_argument("--timeout", type=float, default=120, help="seconds for the run and the catching up")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, url, reps, requests, companies, timeout, seed, **options):
        try:
            report = loadtest.run(
                url=url, reps=reps, requests=requests, companies=companies, timeout=timeout, seed=seed
            )
        except loadtest.LoadTestError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(json.dumps(report))
        if not report["passed"]:
            raise CommandError("the load test found a problem: see the JSON above", returncode=1)
