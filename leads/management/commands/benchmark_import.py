"""Generate a realistic CSV (or Excel workbook) of N companies and import it, printing rows/s,
wall time and peak memory.

    python manage.py benchmark_import --rows 100000 1000000
    python manage.py benchmark_import --format xlsx --rows 100000 1000000
    python manage.py benchmark_import --crm --rows 100000

With --crm the file is a HubSpot export (a "Record ID" column first), imported twice in the same
rolled-back transaction: once creating the companies and their record ids, then again with every
company's name and website changed (another seed), each row found by its record id.

Several sizes in one run show whether memory stays flat as N grows: peak RSS is a
high-water mark, so a flat importer prints the same peak for every size. Each
import runs inside a transaction that is rolled back, so the benchmark leaves no
companies behind and queues no embeddings. Embedding is not part of the figure.
"""

import csv
import random
import resource
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import override_settings
from openpyxl import Workbook

from leads.imports.services import create_job, run_import

INDUSTRIES = [
    "Software",
    "Logistics",
    "Food & Beverage",
    "Healthcare",
    "Fintech",
    "Retail",
    "Manufacturing",
    "Energy",
    "Education",
    "Real Estate",
    "Biotech",
    "Media",
    "Agriculture",
    "Security",
    "Travel",
]
COUNTRIES = ["US", "GB", "DE", "FR", "NL", "SE", "ES", "IT", "CA", "IN", "BR", "JP", "AU", "PL", "IE"]
SYLLABLES = ["nor", "vel", "quan", "tri", "lux", "bar", "zen", "ori", "cal", "mer", "dyn", "sol", "ax", "ter", "vio"]
NOUNS = ["platform", "marketplace", "service", "network", "toolkit", "studio", "lab", "engine", "suite", "cloud"]
AUDIENCES = [
    "small businesses",
    "hospitals",
    "retailers",
    "freight brokers",
    "schools",
    "banks",
    "farmers",
    "developers",
    "restaurants",
    "insurers",
    "city governments",
    "landlords",
]
VERBS = ["automates", "simplifies", "secures", "tracks", "forecasts", "streamlines", "audits", "connects"]
THINGS = [
    "invoicing",
    "inventory",
    "payroll",
    "compliance",
    "shipping",
    "scheduling",
    "procurement",
    "customer support",
    "energy use",
    "hiring",
    "claims",
    "maintenance",
]
HEADER = [
    "Company Name",
    "Website",
    "Industry",
    "Country",
    "Employees",
    "Founded",
    "City",
    "Short Description",
    "Long Description",
    "LinkedIn URL",
]


def company_row(number: int, rng: random.Random) -> list[str]:
    name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).title() + f" {number}"
    slug = name.lower().replace(" ", "")
    industry = rng.choice(INDUSTRIES)
    short = f"The {rng.choice(NOUNS)} that {rng.choice(VERBS)} {rng.choice(THINGS)} for {rng.choice(AUDIENCES)}."
    long = " ".join(
        f"{name.split()[0]} {rng.choice(VERBS)} {rng.choice(THINGS)} and {rng.choice(THINGS)} for "
        f"{rng.choice(AUDIENCES)}, with a {rng.choice(NOUNS)} built for {industry.lower()} teams."
        for _ in range(rng.randint(1, 3))
    )
    return [
        name,
        f"https://www.{slug}.com/about",
        industry,
        rng.choice(COUNTRIES),
        str(rng.randint(2, 5000)),
        str(rng.randint(1950, 2025)),
        "Springfield",
        short,
        long,
        f"https://linkedin.com/company/{slug}",
    ]


def write_csv(path: Path, rows: int, seed: int, crm: bool = False) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["Record ID", *HEADER] if crm else HEADER)
        for number in range(rows):
            row = company_row(number, rng)
            writer.writerow([str(10_000_000 + number), *row] if crm else row)


def write_xlsx(path: Path, rows: int, seed: int) -> None:
    """The same rows in a workbook, numbers as numbers. Streamed (openpyxl's write-only mode), so
    its text is stored in the cells rather than in a shared-string table as Excel would."""
    rng = random.Random(seed)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Companies")
    sheet.append(HEADER)
    for number in range(rows):
        row: list = company_row(number, rng)
        row[4], row[5] = int(row[4]), int(row[5])  # employees and founded
        sheet.append(row)
    workbook.save(path)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Benchmark imports: generate N realistic companies (CSV or xlsx), import them (rolled back), print rows/s."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv", help="the file to generate")
        parser.add_argument("--crm", action="store_true", help="a HubSpot export, imported twice (CSV only)")

    def handle(self, *args, rows, seed, format, crm, **options):
        if crm:
            return self._crm(rows, seed)
        with tempfile.TemporaryDirectory() as folder:
            for count in rows:
                path = Path(folder) / f"companies-{count}.{format}"
                started = time.perf_counter()
                (write_xlsx if format == "xlsx" else write_csv)(path, count, seed)
                written = time.perf_counter() - started
                size_mb = path.stat().st_size / 1024 / 1024
                started = time.perf_counter()
                try:
                    # A million realistic rows is ~370 MB, over the default upload limit.
                    with override_settings(IMPORT_MAX_UPLOAD_MB=max(size_mb * 2, 1)), transaction.atomic():
                        job = run_import(create_job(path=path))
                        raise Rollback
                except Rollback:
                    pass
                wall = time.perf_counter() - started
                job.file.delete(save=False)  # the rollback keeps no row, but the stored copy stays
                path.unlink()
                self.stdout.write(
                    f"{count:>9,} rows ({format}, {size_mb:,.0f} MB, written in {written:.0f} s): "
                    f"{wall:6.1f} s, {count / wall:>9,.0f} rows/s, "
                    f"created {job.created:,}, rejected {job.rejected:,}, peak RSS so far {peak_rss_mb():,.0f} MB"
                )

    def _crm(self, rows: list[int], seed: int) -> None:
        """A HubSpot export of N companies imported, then again with every name and website changed."""
        with tempfile.TemporaryDirectory() as folder:
            for count in rows:
                first, second = Path(folder) / "hubspot-1.csv", Path(folder) / "hubspot-2.csv"
                write_csv(first, count, seed, crm=True)
                write_csv(second, count, seed + 1, crm=True)
                size_mb = first.stat().st_size / 1024 / 1024
                walls, jobs = [], []
                try:
                    with override_settings(IMPORT_MAX_UPLOAD_MB=max(size_mb * 2, 1)), transaction.atomic():
                        for path in (first, second):
                            started = time.perf_counter()
                            jobs.append(run_import(create_job(path=path)))
                            walls.append(time.perf_counter() - started)
                        raise Rollback
                except Rollback:
                    pass
                for job, wall, what in zip(jobs, walls, ("new, with record ids", "again, names and websites changed")):
                    job.file.delete(save=False)
                    self.stdout.write(
                        f"{count:>9,} rows (HubSpot export, {size_mb:,.0f} MB, {what}): {wall:6.1f} s, "
                        f"{count / wall:>9,.0f} rows/s, created {job.created:,}, updated {job.updated:,}, "
                        f"record ids kept {job.crm_records:,}, peak RSS so far {peak_rss_mb():,.0f} MB"
                    )
