"""Benchmarks — `minivdt bench NAME` (registered in minivdt/apps/cli.py's BENCH_COMMANDS), one module per thing
measured: quality.py (VDT vs baselines vs a SimVP-CNN, and the project's targets), curves.py (learning curves),
speed.py (throughput, FLOP/s, memory), conditioning.py (the conditioning race), report.py (BENCHMARKS.md) and
common.py. Every result records the machine, the date and the exact command; `minivdt bench all` regenerates
BENCHMARKS.md. `--quick` runs tiny sizes in seconds (the smoke test); its numbers mean nothing.
"""
