"""Benchmarks — learning curves: position error on a fixed validation subset against training seconds, for the
SimVP-CNN (traced while it trains) and for the VDT (from a run's log, e.g. assets/bundled_curve.py's)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from ...checkpoints import write_atomic
from ...baselines import cnn_predictor, make_cnn, train_cnn
from ...metrics import to_jsonable
from .common import mean_position_error


def learning_curve_cnn(videos, subset, budget_s, eval_every_s, num_given=8, seed=0, partial=None, save_every_s=300,
                       **train_kwargs):
    """Train a SimVP for budget_s seconds, tracing the eval-subset position error against training time.
    -> (points [{"seconds", "step", "position_error"}], model, info).

    With `partial` (a file path) the run saves its state and curve there every `save_every_s` training seconds and
    continues from it when started again, so an hours-long equal-budget run survives interruptions; the file is
    removed once the run is complete."""
    points, resume = [], None
    meta = to_jsonable(dict(budget_s=budget_s, seed=seed, num_given=num_given, num_clips=len(videos),
                            train_kwargs={k: v for k, v in train_kwargs.items() if k != "device"}))
    if partial is not None and Path(partial).exists():
        try:
            saved = torch.load(partial, map_location="cpu", weights_only=True)  # tensors and plain data only
        except Exception as error:
            raise ValueError(f"partial CNN run {str(partial)!r} is corrupt or unsafe "
                             f"({' '.join(str(error).split())[:200]}); delete it to start again") from None
        if saved.get("meta") != meta:
            raise ValueError(f"partial CNN run {str(partial)!r} was started with other settings "
                             f"({saved.get('meta')} vs {meta}); delete it to start again")
        points, resume = list(saved["curve"]), saved["state"]

    def trace(step, model, seconds):
        points.append(dict(seconds=round(seconds, 2), step=step,
                           position_error=mean_position_error(cnn_predictor(model), subset, num_given)))

    def save(state):
        buffer = io.BytesIO()
        torch.save({"state": state, "curve": points, "meta": meta}, buffer)
        write_atomic(Path(partial), buffer.getvalue())

    model, info = train_cnn(videos, num_given, budget_s=budget_s, seed=seed, callback=trace,
                            callback_every_s=eval_every_s, resume=resume,
                            save_state=save if partial is not None else None, save_every_s=save_every_s,
                            **train_kwargs)
    if partial is not None:
        Path(partial).unlink(missing_ok=True)
    return points, model, info


def save_cnn_run(path, points, model, info, model_kwargs=None) -> Path:
    """Keep a trained SimVP with its learning curve, so `bench quality --cnn-run` can reuse it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # plain types only, so that load_cnn_run can read it with weights_only=True (no pickled code)
    torch.save({"state_dict": model.state_dict(), **to_jsonable({"info": info, "curve": points,
                                                                 "model_kwargs": model_kwargs or {}})}, path)
    return path


def load_cnn_run(path, budget_s, num_given=8, num_future=8):
    """-> (points, model, info) saved by save_cnn_run; refuses a run trained for another budget."""
    try:
        run = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain data only: never code
        trained_for = run["info"].get("budget_s")
    except Exception as error:
        raise ValueError(f"cnn_run {str(path)!r} is corrupt, unsafe (pickled objects) or not a saved SimVP run "
                         f"({' '.join(str(error).split())[:200]})") from None
    if trained_for is None or abs(trained_for - budget_s) > 1e-6:
        raise ValueError(f"cnn_run {str(path)!r} was trained for {trained_for} s, "
                         f"but the budget is {budget_s} s; delete it or pass the matching --budget-s")
    try:
        model = make_cnn(num_given, num_future, **run.get("model_kwargs", {}))
        model.load_state_dict(run["state_dict"])
    except Exception as error:
        raise ValueError(f"cnn_run {str(path)!r} does not hold a matching SimVP "
                         f"({' '.join(str(error).split())[:200]})") from None
    return run["curve"], model.eval(), run["info"]


def learning_curve_from_log(path, key: str = "position_error") -> list[dict]:
    """Eval points (lines that carry `key`, e.g. "position_error" or "one_shot_position_error") of a run folder's
    log.jsonl or of a .jsonl file, as {"seconds", "step", "position_error"}."""
    path = Path(path)
    path = path / "log.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no learning-curve log at {path}")
    try:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [dict(seconds=float(row["seconds"]), step=row.get("step"), position_error=float(row[key]))
                for row in rows if key in row]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a JSON-lines learning-curve log ({' '.join(str(error).split())[:200]})") \
            from None
