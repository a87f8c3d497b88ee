"""Test-suite settings: one torch thread per pytest worker (the suite runs two workers on two cores)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
