"""A wheel install works away from the source tree: build the wheel, install it into a fresh virtual environment,
and from a folder outside the repository run `minivdt demo` on the bundled model and import what the notebooks
import. No network: the new environment reuses this one's installed dependencies through a .pth file, and
`minivdt demo` importing torch, diffusers, mediapy, ... from there shows the wheel needs nothing else."""

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(ROOT)], check=True)
    return next(out.glob("minivdt-*.whl"))


def test_wheel_holds_every_package_and_the_bundled_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("minivdt/py.typed", "minivdt/exercises/lesson1.py", "minivdt/apps/cli.py",
                 "minivdt/apps/bench/quality.py", "minivdt/assets/vdt-cpu-tiny/config.json",
                 "minivdt/assets/vdt-cpu-tiny/diffusion_pytorch_model.safetensors",
                 "minivdt/assets/benchmarks/conditioning.json", "minivdt/assets/benchmarks/scaling.json",
                 "minivdt/assets/benchmarks/quality.json"):
        assert path in names, f"{path} is missing from {wheel.name}"


def test_wheel_install_runs_the_demo_outside_the_repository(wheel, tmp_path):
    env_dir = tmp_path / "env"
    venv.create(env_dir)  # without pip and its old setuptools, which would shadow the reused dependencies
    python = env_dir / "bin" / "python"
    # the wheel alone first: with this environment on the path, pip would take its editable minivdt for the wheel
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", "--no-deps",
                    str(wheel)], check=True)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # then this environment's dependencies (torch, diffusers, ...), after the new environment's own packages
    (Path(purelib) / "reuse_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    check = ("import minivdt, minivdt.course as course\n"
             "from minivdt.exercises import lesson1\n"
             "print(minivdt.__file__)\n"
             "print(course.default_checkpoint())\n")
    out = subprocess.run([str(python), "-c", check], cwd=work, env=env, check=True, capture_output=True,
                         text=True).stdout.split("\n")
    assert Path(out[0]).is_relative_to(env_dir) and Path(out[1]).is_relative_to(env_dir), out
    demo = subprocess.run([str(env_dir / "bin" / "minivdt"), "demo", "--num-clips", "1"], cwd=work, env=env,
                          capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "VDT (bundled)" in demo.stdout and (work / "outputs" / "demo" / "metrics.json").is_file()
