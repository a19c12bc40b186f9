"""When an iterative fit stops: the rule every solver shares, and the names of its outcomes.

An iterating solver ends for one of three reasons, recorded with its result as
``stop_reason`` (beside ``steps``, how many iterations it ran):

- ``"rule"``: its objective stopped improving: the mean over the last ``window`` iterations
  improved on the mean over the window before by less than ``tolerance``, relative
  (:class:`Plateau`);
- ``"noise floor"``: on noisy data, its data misfit reached the misfit the data's own noise
  leaves (the discrepancy principle, :func:`prism.core.operator.noise_floor`);
- ``"budget"``: its iteration cap ran out first: it had not converged.

None of them reads the ground truth. A solver that does not iterate records ``""``.
"""

from __future__ import annotations

RULE, NOISE_FLOOR, BUDGET = "rule", "noise floor", "budget"
STOP_REASONS = (RULE, NOISE_FLOOR, BUDGET)


class Plateau:
    """The stagnation test: feed one objective value per iteration; True once it stalled.

    Values are averaged over consecutive windows of ``window`` iterations. A window makes
    progress when its mean is below the best window's mean so far by more than ``tolerance``
    times that best; the fit has stalled after ``patience`` windows in a row without
    progress. The first window always counts as progress.

    Parameters
    ----------
    window : int
        Iterations per window, >= 1.
    tolerance : float
        Relative improvement on the best window that counts as progress, > 0.
    patience : int
        Windows in a row without progress before the fit stops, >= 1.
    """

    def __init__(self, window: int, tolerance: float, patience: int = 1) -> None:
        for name, value in (("window", window), ("patience", patience)):
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")
        if not tolerance > 0:
            raise ValueError(f"`tolerance` must be > 0, got {tolerance!r}")
        self.window, self.tolerance, self.patience = window, tolerance, patience
        self.total, self.count, self.best, self.stale = 0.0, 0, None, 0

    def update(self, value: float) -> bool:
        """Add one iteration's objective; whether the fit has stopped improving."""
        self.total += value
        self.count += 1
        if self.count < self.window:
            return False
        mean, self.total, self.count = self.total / self.window, 0.0, 0
        if self.best is None or mean < self.best - self.tolerance * abs(self.best):
            self.stale = 0
        else:
            self.stale += 1
        self.best = mean if self.best is None else min(self.best, mean)
        return self.stale >= self.patience
