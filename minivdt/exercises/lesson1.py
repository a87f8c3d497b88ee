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


def run_exercise(check, answer, solution) -> bool:
    """Run `check(answer)`; if the exercise is not attempted yet, say so loudly and check the solution instead.

    Returns True when the student's own answer passed. A wrong (attempted) answer raises AssertionError."""
    try:
        check(answer)
        return True
    except NotAttempted as error:
        print(f"Exercise not attempted yet ({error}); showing the solution instead.")
        check(solution)
        return False


# --------------------------------------------------------------------------------------------------
#                                  Exercise 1: the gap between two balls
# --------------------------------------------------------------------------------------------------


def solution_surface_gap(pos_a, pos_b, radius_a, radius_b):
    """Distance between the surfaces of two balls: positions (..., 2) px, radii broadcastable -> (...) px."""
    return np.linalg.norm(np.asarray(pos_a) - np.asarray(pos_b), axis=-1) - radius_a - radius_b


def check_surface_gap(answer) -> None:
    rng = np.random.default_rng(1)
    pos_a, pos_b = rng.uniform(0, 32, (16, 2)), rng.uniform(0, 32, (16, 2))
    radius_a, radius_b = rng.uniform(2, 4, 16), rng.uniform(2, 4, 16)
    mine = call_answer(answer, pos_a, pos_b, radius_a, radius_b)
    check_close(np.asarray(mine, np.float64), solution_surface_gap(pos_a, pos_b, radius_a, radius_b),
                name="surface_gap", atol=1e-6,
                hint="Hint: Gap = centre distance (sqrt of the summed squared differences over the last axis) "
                     "minus BOTH radii; it is negative when the balls overlap.")


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
