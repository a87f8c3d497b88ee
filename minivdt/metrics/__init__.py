"""Lessons 8 and 9 — how good is a predicted future?

frames.py (Lesson 8, notebooks/08_physics_prediction.ipynb) scores a prediction against the one true future: pixel
metrics, the colour ball tracker, position errors, the contact read-out and `evaluate`. uncertain.py (Lesson 9,
notebooks/09_uncertain_future.ipynb) scores a forecast of an uncertain future, K samples against the simulator's M
futures: energy score, best-of-k, the Brier score of the contact read-out and spread-skill.
"""

from .frames import *  # noqa: F401,F403
from .frames import PSNR_MAX, LUMA, SSIM_SIGMA, contact_gaps, contact_readout, evaluate, format_table  # noqa: F401
from .uncertain import *  # noqa: F401,F403
