"""leads.bench.company_sets: the French and Japanese company sets docs/evaluation.md measured,
built from pinned public files (here small stand-ins of the same shape, written by the test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leads.bench import company_sets, evaluation

LONG = "Nous concevons une plateforme pour les équipes logistiques qui suivent les colis en temps réel."


def le_hub(*startups):
    return json.dumps(
        [{"name": name, "description": text, "sectors": [*tags, "", ""], "logo": ""} for name, text, tags in startups]
    ).encode()


def test_french_startups_keep_french_descriptions_and_sector_tags_only():
    raw = le_hub(
        ("Colis Vite", LONG + "\n\n#logistique #IA #Supply Chain", ["B2B", "Transport / Logistique", "Paris"]),
        ("COLIS VITE", LONG, ["Santé"]),  # the same startup again: the first is kept
        ("Parcel Co", "We build a platform for logistics teams that track parcels in real time.", ["Software"]),
        ("Court", "Startup innovante.", ["Software"]),  # says nothing
        ("Sans secteur", LONG, ["B2B", "Île-De-France"]),  # a business model and a place only
    )
    rows = company_sets.startups_fr(raw)

    assert rows == [("Colis Vite", LONG, ["Transport / Logistique"])]  # hashtags gone with their line


def test_a_hashtag_inside_a_sentence_goes_too():
    assert company_sets._without_hashtags("Une #fintech pour les PME.\n#B2B #Saas") == "Une pour les PME."


def test_japanese_companies_take_their_topix_sector_by_code():
    profiles = "\ufeffcode,company_name,market,feature\n1301,極洋,東証プライム,水産品の貿易、加工、買い付け主力。すしネタに強み\n9999,未上場,東証,業種表にない会社の説明です。長い説明\n1305,短い,東証,短い\n"
    sectors = "code,name,topix_33_name\n1301,極洋,水産・農林業\n1305,ETF,\n"
    rows = company_sets.companies_ja(profiles.encode(), sectors.encode())

    assert rows == [("極洋", "水産品の貿易、加工、買い付け主力。すしネタに強み", ["水産・農林業"])]


def test_a_source_file_other_than_the_pinned_one_is_refused(tmp_path, monkeypatch):
    raw = le_hub(("Colis Vite", LONG, ["Software"]))
    (tmp_path / "bpifrance_startups_data2.json").write_bytes(raw)
    with pytest.raises(ValueError, match="is not the file of Damdam86/WildTech@4adccbb"):
        company_sets.fetch("bpifrance_startups_data2.json", tmp_path)

    repository, commit, path, _ = company_sets.SOURCES["bpifrance_startups_data2.json"]
    monkeypatch.setitem(
        company_sets.SOURCES, "bpifrance_startups_data2.json", (repository, commit, path, company_sets.git_blob_id(raw))
    )
    assert company_sets.fetch("bpifrance_startups_data2.json", tmp_path) == raw


def test_git_blob_id_is_git_s():
    assert company_sets.git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object


def test_the_written_files_are_what_compare_encoders_reads(tmp_path, monkeypatch):
    sources = {
        "bpifrance_startups_data2.json": le_hub(
            *[(f"Start {i}", f"{LONG} Version {i}.", ["Software" if i % 2 else "Santé"]) for i in range(44)]
        ),
        "20250914_result.csv": (
            "code,company_name,market,feature\n"
            + "".join(f"{i},会社{i},東証,当社は産業向けの機械と部品を製造し販売する会社{i}\n" for i in range(44))
        ).encode(),
        "stocks.csv": (
            "code,name,topix_33_name\n" + "".join(f"{i},x,{'機械' if i % 2 else '小売業'}\n" for i in range(44))
        ).encode(),
    }
    for name, raw in sources.items():
        (tmp_path / name).write_bytes(raw)
        repository, commit, path, _ = company_sets.SOURCES[name]
        monkeypatch.setitem(company_sets.SOURCES, name, (repository, commit, path, company_sets.git_blob_id(raw)))

    assert company_sets.write(tmp_path / "out", tmp_path) == {"startups-fr.csv": 44, "companies-ja.csv": 44}
    for filename, expected in (("startups-fr.csv", ["Santé", "Software"]), ("companies-ja.csv", ["小売業", "機械"])):
        names, descriptions, labels = evaluation.read_labelled(tmp_path / "out" / filename)
        assert len(names) == 44 and all(len(company) == 1 for company in labels)
        assert [profile.name for profile in evaluation.label_profiles(labels, max_share=0.5)] == expected


def test_french_words_that_english_shares_do_not_count_as_english():
    assert company_sets.is_french("Elle a une offre qui a séduit")  # "a": French too
    assert not company_sets.is_french("A platform for the teams that run logistics")


def test_the_command_says_which_file_is_missing(tmp_path):
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "leads.bench.company_sets", str(tmp_path / "out"), "--from", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert run.returncode == 1 and "bpifrance_startups_data2.json" in run.stderr and "Traceback" not in run.stderr
