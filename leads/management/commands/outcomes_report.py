import json

from django.core.management.base import BaseCommand

from leads.outcomes.report import outcomes_report
from leads.profiles import selectors as profiles


class Command(BaseCommand):
    help = ('"Does it find customers?": win rate and deals by the band and rank companies had before their '
            "outcome, the lift of strong fit over the base rate, reps' verdicts as a baseline, the trend, drift.")  # fmt: skip

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")

    def handle(self, *args, as_json: bool = False, **options):
        report = outcomes_report(profile_id=profiles.first_id())
        if as_json:
            self.stdout.write(json.dumps(report, indent=2, default=str))
            return
        self.stdout.write(f"{report['deals']} decided deals; {report['counted']} had a band before their outcome "
                          f"(left out: {report['left_out']['no_snapshot_before']} with no snapshot before, "
                          f"{report['left_out']['not_scored_before']} not scored then).")  # fmt: skip
        self.stdout.write(f"Base rate: {_percent(report['base_rate'])}")
        for row in report["bands"] + report["ranks"]:
            self.stdout.write(
                f"  {row['group']:>10}: {row['deals']:>5} deals, {row['won']:>5} won, win rate {_percent(row['win_rate'])}"
            )
        for name, lift in (("strong fit", report["lift"]), ("reps' likes", report["reps"]["lift"])):
            self.stdout.write(f"Lift of {name} over the base rate: {_times(lift['value'])} "
                              f"(95% interval {_times(lift['low'])} to {_times(lift['high'])}, {lift['deals']} deals)")  # fmt: skip
        self.stdout.write(report["drift"]["sentence"])


def _percent(value) -> str:
    return "—" if value is None else f"{value:.0%}"


def _times(value) -> str:
    return "—" if value is None else f"{value:.2f}×"
