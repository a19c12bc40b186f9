import pandas as pd
import pytest

from prism.stages.report import methods_table, strongest_classical


def _frame(rows):
    keys = ("object", "pattern", "n_samples", "noise", "seed", "algorithm", "ssim")
    frame = pd.DataFrame([dict(zip(keys, row, strict=True)) for row in rows])
    return frame.assign(psnr=20.0, failed_samples=0, wall_time_s=1.0)


def test_gain_is_paired_with_a_named_baseline_on_the_same_measurement_set():
    frame = _frame(
        [
            ("moon", "p", 8, "clean", 0, "epie", 0.5),
            ("moon", "p", 8, "clean", 0, "prism-a", 0.7),
            ("camera", "p", 8, "clean", 0, "epie", 0.3),
            ("camera", "p", 8, "clean", 0, "prism-a", 0.2),
            ("moon", "p", 16, "clean", 0, "epie", 0.9),
            ("moon", "p", 16, "clean", 0, "prism-a", 0.95),
        ]
    )
    table = methods_table(frame, "epie").set_index(["n_samples", "algorithm"])
    assert "versus_best_mean" not in table
    assert table.loc[(8, "prism-a"), "versus_epie_mean"] == pytest.approx((0.2 - 0.1) / 2)
    assert table.loc[(8, "prism-a"), "n_runs"] == 2
    assert table.loc[(16, "prism-a"), "versus_epie_mean"] == pytest.approx(0.05)
    assert table.loc[(8, "epie"), "versus_epie_mean"] == 0
    assert table.loc[(8, "prism-a"), "case"] == "p, n=8, clean"


def test_the_strongest_classical_method_is_chosen_per_case_by_mean_ssim():
    # n=8: tv wins on the mean although mpie wins on camera; n=16: mpie wins. The framing
    # reference scores highest and PRISM too, but neither is a classical method.
    frame = _frame(
        [
            ("moon", "p", 8, "clean", 0, "tv", 0.9),
            ("moon", "p", 8, "clean", 0, "mpie", 0.5),
            ("camera", "p", 8, "clean", 0, "tv", 0.4),
            ("camera", "p", 8, "clean", 0, "mpie", 0.6),
            ("moon", "p", 8, "clean", 0, "synthetic_aperture", 0.99),
            ("camera", "p", 8, "clean", 0, "prism-a", 0.95),
            ("moon", "p", 16, "clean", 0, "tv", 0.7),
            ("moon", "p", 16, "clean", 0, "mpie", 0.8),
            ("moon", "p", 16, "clean", 0, "prism-a", 0.75),
        ]
    )
    assert strongest_classical(frame).to_dict() == {
        ("p", 8, "clean"): "tv",
        ("p", 16, "clean"): "mpie",
    }
    table = methods_table(frame).set_index(["n_samples", "algorithm"])
    assert (table["best_classical"].xs(8) == "tv").all()
    assert table.loc[(8, "prism-a"), "versus_best_mean"] == pytest.approx(0.95 - 0.4)
    assert table.loc[(8, "mpie"), "versus_best_mean"] == pytest.approx((-0.4 + 0.2) / 2)
    assert table.loc[(8, "tv"), "versus_best_mean"] == 0
    assert table.loc[(16, "prism-a"), "versus_best_mean"] == pytest.approx(-0.05)
    assert "versus_epie_mean" not in table  # the default baseline only


def test_gains_are_missing_without_their_reference():
    frame = _frame([("moon", "p", 8, "clean", 0, "prism-a", 0.7)])
    assert methods_table(frame, "epie")["versus_epie_mean"].isna().all()
    table = methods_table(frame)
    assert table["versus_best_mean"].isna().all()
    assert table["best_classical"].isna().all()
