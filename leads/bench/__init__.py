"""The scoring benchmark harness behind `manage.py bench_scoring` and `bench_plot`.

Not imported by the app: it builds a throw-away database of noisy copies of real company
embeddings and times the real services, pages and queries against it (docs/benchmarks.md)."""
