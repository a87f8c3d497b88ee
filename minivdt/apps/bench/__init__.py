"""Benchmarks — `minivdt bench NAME`, one module per benchmark, each registered in minivdt/apps/cli.py's
BENCH_COMMANDS. A benchmark module NAME.py has

- `main(args)`: measures, then `common.publish(section, data, render, args)` writes `<args.out>/<section>.json`
  (the result, with the machine, the date and the exact command: `common.stamp()`), its markdown beside it as
  `<args.out>/<section>.md`, and BENCHMARKS.md (`args.md`) from every section file in args.out;
- `render(data, page) -> str`: that section of BENCHMARKS.md from the JSON alone (`page`, the path of
  BENCHMARKS.md, is what the paths it shows are relative to);
- `rerender(args)`: its sections again from their JSON files, measuring nothing (`common.render_files`);
  `minivdt bench report` runs every module's rerender, then report.py.

report.py only assembles BENCHMARKS.md from the section files, in the order of its SECTIONS, and imports no
benchmark. A new benchmark is a module with those three functions, its entry in BENCH_COMMANDS, its rerender in the
"report" entry there, and its section name in report.SECTIONS.

The benchmarks: quality (the VDT against the baselines and an equal-budget SimVP-CNN, the project's targets and
the learning curves; with physics.py's extras), recipe, conditioning and scaling (training studies, run by study.py),
sampler, speed, laptop_gpu (measured on a GPU by assets/laptop_gpu_check.py). card.py writes the model card and
README's generated tables from the JSON files. `--quick` runs tiny sizes in seconds (the smoke test); its
numbers mean nothing.
"""
