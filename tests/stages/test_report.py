import pandas as pd
import pytest

from prism.stages.report import methods_table


def _frame(rows):
    keys = ("object", "pattern", "n_samples", "noise", "seed", "algorithm", "ssim")
    frame = pd.DataFrame([dict(zip(keys, row, strict=True)) for row in rows])
    return frame.assign(psnr=20.0, failed_samples=0, wall_time_s=1.0)


def test_gain_is_paired_with_epie_on_the_same_measurement_set():
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
    table = methods_table(frame).set_index(["n_samples", "algorithm"])
    assert table.loc[(8, "prism-a"), "ssim_gain_mean"] == pytest.approx((0.2 - 0.1) / 2)
    assert table.loc[(8, "prism-a"), "n_runs"] == 2
    assert table.loc[(16, "prism-a"), "ssim_gain_mean"] == pytest.approx(0.05)
    assert table.loc[(8, "epie"), "ssim_gain_mean"] == 0
    assert table.loc[(8, "prism-a"), "case"] == "p, n=8, clean"


def test_gain_is_missing_without_epie():
    frame = _frame([("moon", "p", 8, "clean", 0, "prism-a", 0.7)])
    assert methods_table(frame)["ssim_gain_mean"].isna().all()
