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


@pytest.fixture
def one_thread():
    """One torch thread (the benchmark tests): on a shared 2-core machine two OpenMP threads wait on each other
    (measured 100x slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A one-block untrained VDT saved with a minimal training card, for the benchmark commands' smoke runs."""
    import json

    import torch

    from minivdt.apps.bench import quality
    from minivdt.checkpoints import save_model
    from minivdt.model import VDT

    path = tmp_path_factory.mktemp("vdt-tiny")
    torch.manual_seed(0)
    save_model(VDT.from_preset("cpu-tiny", hidden_size=32, depth=1, num_heads=2), path)  # with SHA256SUMS
    (path / quality.CARD_FILE).write_text(json.dumps({"train_seconds": 1.0, "num_train_clips": 10}))
    return path
