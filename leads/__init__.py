import os

# numpy's OpenBLAS threads spin after each matrix product before they sleep. In a worker, the
# product that scores a batch thus took a core from the encoder of the next batch; on the web
# server, from the next request. With 2^20 cycles (well under a millisecond) the full rescore,
# products back to back, is no slower (docs/benchmarks.md, *Figures behind the design*). Set
# here, the first module every process (manage.py, celery -A leads, gunicorn) imports: OpenBLAS
# reads it when numpy loads.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")
# torch's OpenMP threads (the MiniLM encoders) spin at every barrier of every layer by default.
# When another process holds a core (Postgres, a verdict's pass, the web server), the thread that
# lost it stalls the others, a short text and a worker's batch many times slower (docs/benchmarks.md,
# *Figures behind the design*). PASSIVE: a waiting thread sleeps. Read when torch first loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from leads.celery import app as celery_app  # noqa: E402 - after the setting above

__all__ = ["celery_app"]
