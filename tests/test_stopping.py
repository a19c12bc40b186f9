"""The stopping rule every iterating solver shares."""

import pytest

from prism.stopping import Plateau


def stops_after(plateau: Plateau, values) -> int | None:
    """The 1-based iteration at which the rule fires, or None."""
    for iteration, value in enumerate(values, start=1):
        if plateau.update(value):
            return iteration
    return None


def test_a_falling_objective_never_stalls_and_a_flat_one_stalls_after_patience_windows():
    falling = [0.9**k for k in range(200)]  # 10 % less every iteration
    assert stops_after(Plateau(10, 1e-3, patience=2), falling) is None
    flat = [1.0] * 100
    assert stops_after(Plateau(10, 1e-3, patience=1), flat) == 20  # the first window counts
    assert stops_after(Plateau(10, 1e-3, patience=3), flat) == 40


def test_progress_is_measured_against_the_best_window_relative_to_it():
    plateau = Plateau(1, 0.1, patience=2)
    assert not plateau.update(1.0)
    assert not plateau.update(0.95)  # 5 % < 10 %: no progress (1 of 2)
    assert not plateau.update(0.85)  # 15 % below the best (0.95): progress, count restarts
    assert not plateau.update(2.0)  # worse: no progress (1 of 2)
    assert plateau.update(0.84)  # 1 % below the best (0.85): no progress (2 of 2)


def test_a_window_averages_a_noisy_objective():
    noisy = [1.0 + (0.05 if k % 2 else -0.05) for k in range(40)]  # oscillates, mean flat
    assert stops_after(Plateau(1, 1e-3, patience=1), noisy) == 2  # single values: at once
    assert stops_after(Plateau(10, 1e-3, patience=1), noisy) == 20


@pytest.mark.parametrize(
    ("window", "tolerance", "patience", "message"),
    [
        (0, 0.1, 1, "`window` must be an integer >= 1, got 0"),
        (2.5, 0.1, 1, "`window` must be an integer >= 1, got 2.5"),
        (1, 0.0, 1, "`tolerance` must be > 0, got 0.0"),
        (1, 0.1, 0, "`patience` must be an integer >= 1, got 0"),
    ],
)
def test_settings_are_checked(window, tolerance, patience, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Plateau(window, tolerance, patience)
