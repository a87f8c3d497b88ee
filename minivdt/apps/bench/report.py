"""Benchmarks — BENCHMARKS.md, assembled from the section files that the benchmarks write beside their JSON
(`<name>.md` next to `<name>.json`), in the order of SECTIONS. It reads markdown only and imports no benchmark."""

from __future__ import annotations

from pathlib import Path

# The page's sections, in order (a section whose file is missing is left out).
SECTIONS = ("quality", "stochastic", "recipe", "recipe_final", "recipe_final_xeon", "conditioning", "scaling",
            "laptop_gpu", "sampler", "speed")
HEADER = ("# minivdt benchmarks\n\nEach section is written by the command it names, from the JSON file beside its "
          "markdown in the benchmark folder (`assets/benchmarks/`); `minivdt bench report` writes every section again "
          "from the JSON files, measuring nothing.\n")


def write_page(out_dir, page="BENCHMARKS.md") -> Path:
    """Write `page` from the section files in `out_dir`."""
    sections = [Path(out_dir) / f"{name}.md" for name in SECTIONS]
    page = Path(page)
    page.write_text("\n".join([HEADER] + [path.read_text() for path in sections if path.is_file()]))
    return page


def main(args):
    """`minivdt bench report`, after every benchmark's rerender."""
    if not Path(args.out).is_dir():
        raise ValueError(f"--out {str(args.out)!r} is not a folder of benchmark files")
    print(f"wrote {write_page(args.out, args.md)}")
