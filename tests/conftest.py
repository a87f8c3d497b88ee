"""Test-suite settings: one torch thread per pytest worker (the suite runs two workers on two cores)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import shutil  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def smoke_run_template(tmp_path_factory):
    """One smoke training run (2 steps, a checkpoint at step 2), trained once per session; copy it to change it."""
    from minivdt.training import make_train_config, train

    out = tmp_path_factory.mktemp("smoke-template") / "run"
    train(make_train_config("smoke", out_dir=str(out), max_steps=2), progress=False)
    return out


@pytest.fixture
def smoke_run(smoke_run_template, tmp_path):
    """A private copy of the session's smoke run folder."""
    return shutil.copytree(smoke_run_template, tmp_path / "run")
