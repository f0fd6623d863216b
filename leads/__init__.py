import os

# numpy's OpenBLAS threads spin after each matrix product before they sleep. In a worker, the
# product that scores a batch thus took a core from the encoder of the next batch; on the web
# server, from the next request. With 2^20 cycles (well under a millisecond) the full rescore,
# products back to back, is no slower (docs/benchmarks.md, *Figures behind the design*). Set
# here, the first module every process (manage.py, celery -A leads, gunicorn) imports: OpenBLAS
# reads it when numpy loads.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

from leads.celery import app as celery_app  # noqa: E402 - after the setting above

__all__ = ["celery_app"]
