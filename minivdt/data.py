"""Lesson 1 — notebooks/01_world.ipynb. Datasets of bouncing-ball clips: tensor conversion, fixed seed splits and an
optional .npz cache."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from .world import ALL_SCENARIOS, SCENARIOS, BALL_COLORS, ClipBatch, Clip, WorldConfig, make_clip, make_clips

# Disjoint seed ranges per split: clip i of a split uses seed SPLIT_SEED_OFFSETS[split] + i (and the scenario
# is mixed into the random key by world.py, so the same seed gives different clips in different scenarios).
SPLIT_SEED_OFFSETS = {"train": 0, "val": 10_000_000, "test": 20_000_000}
DEFAULT_NUM_CLIPS = {"train": 2048, "val": 64, "test": 64}  # per scenario; val/test are small and fixed
CACHE_VERSION = 2  # 2: clips record rough_floor (Lesson 9)
_CACHE_FIELDS = ("frames", "positions", "velocities", "radii", "present", "obstacles", "obstacle_present",
                 "agent", "target", "target_is_obstacle", "contact", "contact_frame", "scenario", "seed", "rough_floor")


def to_tensor(frames) -> torch.Tensor:
    """uint8 frames (..., F, H, W, 3) -> float32 video (..., F, 3, H, W) in [-1, 1]."""
    frames = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if frames.dtype != torch.uint8:
        raise TypeError(f"frames must be uint8, got {frames.dtype}")
    if frames.ndim < 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (..., F, H, W, 3), got {tuple(frames.shape)}")
    return rearrange(frames.float() / 127.5 - 1.0, "... f h w c -> ... f c h w").contiguous()


def to_uint8(video) -> np.ndarray:
    """Float video (..., F, 3, H, W) in [-1, 1] -> uint8 frames (..., F, H, W, 3) (clamped and rounded)."""
    video = torch.as_tensor(video).detach().cpu().float()
    if video.ndim < 4 or video.shape[-3] != 3:
        raise ValueError(f"video must have shape (..., F, 3, H, W), got {tuple(video.shape)}")
    pixels = ((video.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return rearrange(pixels, "... f c h w -> ... f h w c").numpy()


def split_seeds(split: str, num_clips: int) -> np.ndarray:
    """Seeds of the first num_clips clips of a split (same for every scenario)."""
    if split not in SPLIT_SEED_OFFSETS:
        raise ValueError(f"split must be one of {tuple(SPLIT_SEED_OFFSETS)}, got {split!r}")
    if isinstance(num_clips, bool) or not isinstance(num_clips, (int, np.integer)) or num_clips < 1:
        raise ValueError(f"num_clips must be a positive int, got {num_clips!r}")
    if num_clips > 10_000_000:
        raise ValueError(f"num_clips must be <= 10_000_000 so splits stay disjoint, got {num_clips}")
    return SPLIT_SEED_OFFSETS[split] + np.arange(num_clips)


def clip_config(model) -> WorldConfig:
    """The world whose clips `model` (a VDT) takes: frame size and clip length from its config."""
    return WorldConfig(size=model.cfg.height, num_frames=model.cfg.num_frames)


def concat_clips(batches: list[ClipBatch]) -> ClipBatch:
    """One ClipBatch of several (same world), in order."""
    return ClipBatch(**{f.name: (getattr(batches[0], f.name) if f.name in ("colors", "config")
                                 else np.concatenate([getattr(b, f.name) for b in batches]))
                        for f in dataclasses.fields(ClipBatch)})


class BallClips(torch.utils.data.Dataset):
    """Clips of the given scenarios (num_clips per scenario, scenario-major order) from one split.

    cache=None generates each clip on the fly in __getitem__; cache=path generates all clips once with the
    vectorised make_clips, saves them to that .npz file and loads them from it on later runs.
    """

    def __init__(self, split: str = "train", scenarios=SCENARIOS, num_clips: int | None = None,
                 config: WorldConfig | None = None, cache=None):
        if isinstance(scenarios, str):
            scenarios = (scenarios,)
        bad = [s for s in scenarios if s not in ALL_SCENARIOS]
        if bad or not scenarios:
            raise ValueError(f"scenarios must be a non-empty subset of {ALL_SCENARIOS}, got {tuple(scenarios)!r}")
        if config is not None and not isinstance(config, WorldConfig):
            raise TypeError(f"config must be a WorldConfig, got {type(config).__name__}")
        self.split, self.scenarios = split, tuple(scenarios)
        self.num_clips = DEFAULT_NUM_CLIPS.get(split, 1) if num_clips is None else num_clips
        self.seeds = split_seeds(split, self.num_clips)
        self.config = config or WorldConfig()
        self.cache = None if cache is None else Path(cache)
        self.clips: ClipBatch | None = None
        if self.cache is not None:
            self.clips = self._load_or_build_cache()

    def __len__(self) -> int:
        return len(self.scenarios) * self.num_clips

    def _locate(self, index: int) -> tuple[int, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index must be in [0, {len(self)}), got {index}")
        index %= len(self)
        return index // self.num_clips, index % self.num_clips

    def get_clip(self, index: int) -> Clip:
        """The raw Clip (frames, true states, obstacles, contact label) behind item `index`."""
        scenario_id, i = self._locate(int(index))
        if self.clips is not None:
            return self.clips[scenario_id * self.num_clips + i]
        return make_clip(self.scenarios[scenario_id], int(self.seeds[i]), self.config)

    def get_batch(self) -> ClipBatch:
        """All clips as one ClipBatch (generated with make_clips if there is no cache)."""
        if self.clips is None:
            self.clips = self._generate()
        return self.clips

    def __getitem__(self, index: int) -> dict:
        clip = self.get_clip(index)
        return dict(
            video=to_tensor(clip.frames), positions=torch.from_numpy(np.asarray(clip.positions, np.float32)),
            radii=torch.from_numpy(np.asarray(clip.radii, np.float32)), present=torch.from_numpy(clip.present),
            contact=torch.tensor(clip.contact), scenario_id=ALL_SCENARIOS.index(self.scenarios[self._locate(index)[0]]),
            index=int(index) % len(self))

    # ------------------------------------------------------------------ cache
    def _generate(self) -> ClipBatch:
        return concat_clips([make_clips(s, self.seeds, self.config) for s in self.scenarios])

    def _meta(self) -> dict:
        return dict(version=CACHE_VERSION, split=self.split, scenarios=list(self.scenarios),
                    num_clips=int(self.num_clips), config=dataclasses.asdict(self.config))

    def _load_or_build_cache(self) -> ClipBatch:
        if not self.cache.exists():
            clips = self._generate()
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache.with_name(self.cache.name + ".tmp.npz")
            np.savez(tmp, meta=json.dumps(self._meta()), **{k: getattr(clips, k) for k in _CACHE_FIELDS})
            tmp.replace(self.cache)
            return clips
        try:
            with np.load(self.cache, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {k: data[k] for k in _CACHE_FIELDS}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"cache file {self.cache} is corrupt or not a minivdt cache ({error}); "
                             f"delete it to regenerate") from error
        expected = json.loads(json.dumps(self._meta()))  # tuples -> lists, as stored
        if meta != expected:
            diff = {k: (meta.get(k), expected[k]) for k in expected if meta.get(k) != expected[k]}
            raise ValueError(f"cache file {self.cache} does not match the requested dataset "
                             f"(field: (cached, requested)) {diff}; delete it or pass another cache path")
        self._check_arrays(arrays)
        return ClipBatch(colors=BALL_COLORS.copy(), config=self.config, **arrays)

    def _check_arrays(self, arrays: dict):
        """Every cached array must have the clip count, frame count and frame size its metadata promises."""
        N, F, S = len(self), self.config.num_frames, self.config.size
        expected = {"frames": (N, F, S, S, 3), "positions": (N, F), "velocities": (N, F)}
        for name, array in arrays.items():
            want = expected.get(name, (N,))
            if array.shape[:len(want)] != want:
                raise ValueError(f"cache file {self.cache} is corrupt: {name} has shape {array.shape}, expected "
                                 f"{want + ('...',) if len(want) < array.ndim else want}; delete it to regenerate")
        if arrays["frames"].dtype != np.uint8:
            raise ValueError(f"cache file {self.cache} is corrupt: frames are {arrays['frames'].dtype}, expected uint8")
