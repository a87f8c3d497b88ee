"""Notebook tests: quick mode by default, one thread per kernel, and a per-notebook time report."""

import os
import time
from collections import defaultdict

# The kernels nbval starts inherit this environment: small sizes and few steps unless asked otherwise.
os.environ.setdefault("MINIVDT_QUICK", "1")
# Measured on 2 cores: two single-threaded kernels side by side beat one two-threaded kernel.
os.environ.setdefault("OMP_NUM_THREADS", "1")

QUICK_BUDGET_S = 120  # each lesson's quick run should stay under ~2 minutes on 2 CPU cores
_durations = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if report.when == "call" and path.endswith(".ipynb"):
        _durations[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _durations:
        return
    terminalreporter.section("notebook run times (cells only, quick mode)" if os.environ["MINIVDT_QUICK"] != "0"
                             else "notebook run times (cells only, full size)")
    for name, seconds in sorted(_durations.items()):
        flag = "  <-- over the quick-mode budget" if seconds > QUICK_BUDGET_S else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}{flag}")
