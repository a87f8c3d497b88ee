"""Notebook tests: quick mode by default, one thread per kernel, and a per-notebook time report.

Threads: every kernel gets MINIVDT_THREADS threads, 1 unless set. An OMP_NUM_THREADS (or MKL_NUM_THREADS,
OPENBLAS_NUM_THREADS) already in the environment is overridden, not kept: pytest runs two kernels side by side,
and an OMP_NUM_THREADS exported by the user's shell made lessons 6 and 8 4-8x slower on 2 cores. Ask for more
threads per kernel with MINIVDT_THREADS, e.g. on a GPU machine, one lesson at a time:
    MINIVDT_QUICK=0 MINIVDT_THREADS=8 python -m pytest notebooks -n 0

MINIVDT_LESSON_TIMES=path.json also writes the report as JSON (README's lesson-time table is built from such files
by `minivdt bench card`), e.g. on a CPU at the default size, one lesson at a time:
    MINIVDT_QUICK=0 MINIVDT_LESSON_TIMES=assets/benchmarks/lesson_times_cpu.json python -m pytest notebooks -n 0
"""

import datetime
import json
import os
import platform
from collections import defaultdict
from pathlib import Path

import pytest

# The kernels nbval starts inherit this environment: small sizes and few steps unless asked otherwise.
os.environ.setdefault("MINIVDT_QUICK", "1")
# Measured on 2 cores: two single-threaded kernels side by side beat one two-threaded kernel. Set, not defaulted:
# the thread count is this file's choice (MINIVDT_THREADS), not whatever the user's shell happens to export.
THREADS_ENV = "MINIVDT_THREADS"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def kernel_threads(env) -> str:
    """The thread count every notebook kernel gets: MINIVDT_THREADS (a positive integer), else 1."""
    value = env.get(THREADS_ENV, "").strip() or "1"
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"{THREADS_ENV} must be a positive integer (threads per notebook kernel), got {value!r}")
    return str(int(value))


THREADS = kernel_threads(os.environ)
for variable in THREAD_VARIABLES:
    os.environ[variable] = THREADS

QUICK_BUDGET_S = 120  # each lesson's quick run should stay under ~2 minutes on 2 CPU cores
_durations = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if report.when == "call" and path.endswith(".ipynb"):
        _durations[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _durations:
        return
    quick = os.environ["MINIVDT_QUICK"] != "0"
    terminalreporter.section("notebook run times (cells only, quick mode)" if quick
                             else "notebook run times (cells only, full size)")
    for name, seconds in sorted(_durations.items()):
        flag = "  <-- over the quick-mode budget" if quick and seconds > QUICK_BUDGET_S else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}{flag}")
    out = os.environ.get("MINIVDT_LESSON_TIMES")
    if out:
        import torch

        mode = "quick" if os.environ["MINIVDT_QUICK"] != "0" else "cuda" if torch.cuda.is_available() else "cpu"
        machine = (torch.cuda.get_device_name() if mode == "cuda" else
                   f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
        Path(out).write_text(json.dumps(dict(
            mode=mode, machine=machine, threads_per_kernel=THREADS,
            pytest_workers=getattr(terminalreporter.config.option, "numprocesses", None) or 1,
            date=datetime.datetime.now().isoformat(timespec="seconds"),
            seconds={Path(name).stem: round(seconds, 1) for name, seconds in sorted(_durations.items())}), indent=1)
            + "\n")
        terminalreporter.write_line(f"wrote {out}")
