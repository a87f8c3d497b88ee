"""Lesson 1 (the bouncing-ball world): exercise checks and solutions, plus the helpers every lesson's checks use.

A check takes the student's function, runs it on fixed inputs and compares with the solution: it prints a success
line, or raises AssertionError with a hint. run_exercise(check, answer, solution) falls back to the solution (and
says so) when the exercise cell still raises NotImplementedError or returns None, so a notebook runs top to bottom.
"""

from __future__ import annotations

import numpy as np

from minivdt.course import check_close

# --------------------------------------------------------------------------------------------------
#                                  Helpers shared by the lesson checks
# --------------------------------------------------------------------------------------------------


class NotAttempted(AssertionError):
    """The exercise stub still raises NotImplementedError (or returns None)."""


def call_answer(answer, *args, **kwargs):
    """Call the student's function; NotAttempted if it is missing, unimplemented or returns None."""
    if answer is None:
        raise NotAttempted("the answer is None: define the function in the exercise cell")
    try:
        out = answer(*args, **kwargs)
    except NotImplementedError as error:
        raise NotAttempted("the exercise function still raises NotImplementedError") from error
    if out is None:
        raise NotAttempted("the exercise function returned None: did you forget `return`?")
    return out


STILL_OPEN = "(solution used — exercise still open)"


def run_exercise(check, answer, solution):
    """Check the student's `answer`; return the function later cells should use.

    Attempted and right: prints "Correct: ..." and returns `answer`, so the student's own code is used downstream.
    Attempted and wrong: raises AssertionError with a hint. Not attempted yet (the stub still raises
    NotImplementedError or returns None): prints STILL_OPEN and returns `solution`, so the notebook still runs."""
    try:
        check(answer)
    except NotAttempted as error:
        print(f"{STILL_OPEN}: {error}")
        return solution
    return answer


# --------------------------------------------------------------------------------------------------
#                                  Exercise 1: the gap between a ball and the block
# --------------------------------------------------------------------------------------------------


def solution_gap_to_block(pos, radius, block):
    """Gap between a ball's surface and a rectangle: pos (..., 2) px, radius broadcastable, block (4,) [x0, y0, x1,
    y1] px -> (...) px. The nearest point of the rectangle is the centre clamped into it; negative means overlap."""
    pos, block = np.asarray(pos, np.float64), np.asarray(block, np.float64)
    nearest = np.clip(pos, block[:2], block[2:])  # (..., 2)
    return np.linalg.norm(pos - nearest, axis=-1) - radius


def check_gap_to_block(answer) -> None:
    rng = np.random.default_rng(1)
    block = np.array([12.0, 20.0, 20.0, 28.0])  # [x0, y0, x1, y1]
    pos = np.concatenate([rng.uniform(0, 32, (24, 2)),  # anywhere: beside, above, at a corner
                          [[16.0, 24.0], [16.0, 17.0], [9.0, 24.0], [23.0, 17.0]]])  # inside, above, left, corner
    radius = rng.uniform(1.5, 3.5, len(pos))
    mine = call_answer(answer, pos.copy(), radius.copy(), block.copy())
    check_close(np.asarray(mine, np.float64), solution_gap_to_block(pos, radius, block), name="gap_to_block",
                atol=1e-6,
                hint="Hint: the nearest point of the block to the centre is the centre with x clamped into [x0, x1] "
                     "and y into [y0, y1] (np.clip); the gap is the distance to that point minus the radius. Beside "
                     "the block only one coordinate differs; at a corner both do.")


# --------------------------------------------------------------------------------------------------
#                                  Exercise 2: contact balance per scenario
# --------------------------------------------------------------------------------------------------


def solution_contact_rate(contact, scenario):
    """Fraction of clips with contact, per scenario name: contact (B,) bool, scenario (B,) str -> {name: float}."""
    contact, scenario = np.asarray(contact, bool), np.asarray(scenario)
    return {str(name): float(contact[scenario == name].mean()) for name in np.unique(scenario)}


def check_contact_rate(answer) -> None:
    contact = np.array([True, False, False, True, True, True, False, False, False])
    scenario = np.array(["drop", "drop", "drop", "roll", "roll", "collide", "collide", "collide", "collide"])
    mine = call_answer(answer, contact, scenario)
    expected = solution_contact_rate(contact, scenario)
    if not isinstance(mine, dict):
        raise AssertionError(f"contact_rate must return a dict {{scenario: fraction}}, got {type(mine).__name__}")
    if set(map(str, mine)) != set(expected):
        raise AssertionError(f"contact_rate keys must be the scenario names {sorted(expected)}, got {sorted(mine)}")
    for name, rate in expected.items():
        if abs(float(mine[name]) - rate) > 1e-9:
            raise AssertionError(f"contact_rate[{name!r}] = {mine[name]} but expected {rate:.3f}. Hint: a rate is "
                                 f"a fraction in [0, 1] (mean of the bool labels of that scenario), not a count.")
    print("Correct: contact_rate matches.")
