"""Outcomes in and proof: won and lost deals from the CRM kept apart from verdicts, and the report
of whether the scorer finds customers."""
