"""Company descriptions in French and Japanese, labelled by sector, for `compare_encoders --data`:
built from public files at pinned commits, and never committed here (the texts belong to the
companies and publishers that wrote them, and carry no licence to redistribute; docs/evaluation.md).

- startups-fr.csv: the startups of Bpifrance's Le Hub directory, each its own French description
  and its directory tags (market and sector: "Software", "Santé", "Transport / Logistique"...);
  tags for a place or a business model are left out, as are descriptions not in French.
- companies-ja.csv: Japanese listed companies, each its 特色 (a one- or two-sentence profile of
  what the company does, from 会社四季報), labelled with its TOPIX-33 sector (東証33業種).

    python -m leads.bench.company_sets OUT_DIR            # downloads the three files (6 MB)
    python -m leads.bench.company_sets OUT_DIR --from DIR  # the same files, already in DIR

Each file is checked against its git blob id, so a changed file is refused rather than measured.
Pure Python, no Django."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import urllib.request
from pathlib import Path

from leads.bench.evaluation import write_labelled

# name -> (repository, commit, path in it, git blob id): what the figures in docs/evaluation.md used
SOURCES = {
    "bpifrance_startups_data2.json": (
        "Damdam86/WildTech", "4adccbbd24adb51c93d944551d768055c8fabbc1",
        "sources/bpifrance_startups_data2.json", "08dc1e29eb4fc2cbe0eb9de73981d350db4c2464",
    ),
    "20250914_result.csv": (
        "nemusake/shikiho_downloader", "1cd799a9a446b634fbb6a98775f016e59c7a7dd4",
        "20250914_result.csv", "73c73a43013851281ffce6d513f43f9890d030d8",
    ),
    "stocks.csv": (
        "otomarukanta/stocks-data-public", "6c32f94b440bbeae0a0a9c078f038694b5a19960",
        "stocks.csv", "71b4d4f2536c0fd7258d02f15a0419771a0b5863",
    ),
}  # fmt: skip

# Le Hub's tags that name a place or a business model rather than what a startup does: the
# ones twenty or more French startups carry (fewer cannot make a profile).
NOT_A_SECTOR = {
    "B2B", "B2C", "B2B2C", "Saas", "Freemium / Premium", "MarketPlace", "Service",
    "Île-De-France", "Paris", "Hauts-De-Seine", "Auvergne-Rhône-Alpes", "Occitanie",
    "Provence-Alpes-Côte D'Azur", "Nouvelle-Aquitaine", "Pays De La Loire", "Hauts-De-France",
    "Grand Est", "Bretagne", "Normandie",
}  # fmt: skip

MIN_DESCRIPTION = 40  # characters: "Startup innovante." says nothing of a sector
_FRENCH = set("le la les des une est et pour dans du de en qui avec sur au aux nous sont son ses leur à".split())
_ENGLISH = set("the and is of to for with our we in that are by".split())  # not a, on, an: French words too
_WORD = re.compile(r"[a-zàâçéèêëîïôûùüÿœ']+")
_HASHTAG = re.compile(r"#\S+")


def startups_fr(raw: bytes) -> list[tuple[str, str, list[str]]]:
    """(name, description, sector tags) of each French-described startup, first of each name."""
    rows, seen = [], set()
    for startup in json.loads(raw):
        name = " ".join(startup["name"].split())
        if not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        description = _without_hashtags(startup.get("description") or "")
        tags = sorted({tag.strip() for tag in startup.get("sectors") or ()} - NOT_A_SECTOR - {""})
        if len(description) >= MIN_DESCRIPTION and tags and is_french(description):
            rows.append((name, description, tags))
    return rows


def _without_hashtags(text: str) -> str:
    """Lines of hashtags ("#bigdata #AI #Information Technology") echo the directory's tags: gone,
    as is any hashtag left in a sentence."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return " ".join(_HASHTAG.sub("", " ".join(lines)).split())


def is_french(text: str) -> bool:
    """More French function words than English ones (Le Hub's descriptions are one or the other)."""
    words = _WORD.findall(text.lower())
    return sum(word in _FRENCH for word in words) > sum(word in _ENGLISH for word in words)


def companies_ja(profiles_csv: bytes, sectors_csv: bytes) -> list[tuple[str, str, list[str]]]:
    """(name, 特色, [TOPIX-33 sector]) of each listed company both files know."""
    sector = {row["code"]: row["topix_33_name"].strip() for row in _csv(sectors_csv) if row["topix_33_name"].strip()}
    rows = []
    for company in _csv(profiles_csv):
        feature = " ".join((company["feature"] or "").split())
        if company["code"] in sector and len(feature) >= MIN_DESCRIPTION // 4:  # CJK: ~4× denser
            rows.append((company["company_name"].strip(), feature, [sector[company["code"]]]))
    return rows


def _csv(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def fetch(name: str, local: Path | None) -> bytes:
    """One source file, from `local` when given, else from GitHub at its pinned commit; refused
    unless its git blob id is the pinned one."""
    repository, commit, path, blob = SOURCES[name]
    if local is not None:
        raw = (local / name).read_bytes()
    else:
        url = f"https://raw.githubusercontent.com/{repository}/{commit}/{path}"
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                raw = response.read()
        except OSError as error:
            raise OSError(f"could not download {url} ({error}); or give --from a folder holding {name}") from error
    if git_blob_id(raw) != blob:
        raise ValueError(f"{name} is not the file of {repository}@{commit[:7]} (blob {blob[:10]}): refusing it")
    return raw


def git_blob_id(raw: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()


def write(directory: Path, local: Path | None = None) -> dict[str, int]:
    """Write startups-fr.csv and companies-ja.csv (name, description, labels) into `directory`."""
    sets = {
        "startups-fr.csv": startups_fr(fetch("bpifrance_startups_data2.json", local)),
        "companies-ja.csv": companies_ja(fetch("20250914_result.csv", local), fetch("stocks.csv", local)),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for filename, rows in sets.items():
        write_labelled(directory / filename, rows)
    return {filename: len(rows) for filename, rows in sets.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="where the two CSV files go")
    parser.add_argument("--from", dest="local", type=Path, help="a folder holding the source files")
    arguments = parser.parse_args()
    try:
        print(write(arguments.out, arguments.local))
    except (OSError, ValueError) as error:  # a missing file, no network, a changed file
        parser.exit(1, f"company_sets: {error}\n")
