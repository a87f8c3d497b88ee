"""Applications built on the lesson library: the `minivdt` command (cli.py), the demo (demo.py) and the
benchmarks (bench/). Nothing in the lessons imports from here."""
