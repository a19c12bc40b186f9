"""Bad images get a clear error or a documented conversion, never a traceback from torch."""

import numpy as np
import PIL.Image
import pytest
import skimage.io
import tifffile
import torch

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.images import read_image
from prism.io import load_arrays, load_measurements
from prism.stages.data import prepare, simulate

PHYSICS = PhysicsConfig(image_size=32, obj_size=16, sample_diameter=8)


def test_builtin_and_file_images_prepare(tmp_path):
    derived = prepare("moon", tmp_path / "moon.npz", PHYSICS)
    assert derived == {
        "image_size": 32,
        "obj_size": 16,
        "sample_diameter": 8.0,
        "dx": pytest.approx(float("nan"), nan_ok=True),
    }
    skimage.io.imsave(
        tmp_path / "mine.png", (np.arange(400).reshape(20, 20) % 256).astype(np.uint8)
    )
    prepare(tmp_path / "mine.png", tmp_path / "mine.npz", PHYSICS)
    obj = load_arrays(tmp_path / "mine.npz")["object"]
    assert obj.shape == (32, 32) and obj.max() == pytest.approx(1)


def test_colour_and_non_square_images_are_converted(tmp_path):
    rgb = np.zeros((30, 50, 3), dtype=np.uint8)
    rgb[:, 10:40] = np.linspace(0, 255, 30, dtype=np.uint8)[:, None, None]
    skimage.io.imsave(tmp_path / "wide.png", rgb)
    prepare(tmp_path / "wide.png", tmp_path / "wide.npz", PHYSICS)
    grey_square = rgb[:, 10:40].mean(axis=-1)
    skimage.io.imsave(tmp_path / "square.png", grey_square.astype(np.uint8))
    prepare(tmp_path / "square.png", tmp_path / "square.npz", PHYSICS)
    wide, square = (load_arrays(tmp_path / f"{n}.npz")["object"] for n in ("wide", "square"))
    assert np.allclose(wide, square, atol=0.02)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is text, not an image", "is not a readable image"),
        (None, "is not a readable image"),  # a truncated PNG
    ],
)
def test_unreadable_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.png"
    if content is None:
        skimage.io.imsave(tmp_path / "good.png", np.eye(40, dtype=np.uint8) * 255)
        content = (tmp_path / "good.png").read_bytes()[:60]
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        prepare(path, tmp_path / "out.npz", PHYSICS)
    assert not (tmp_path / "out.npz").exists()


def test_constant_and_nan_images_are_refused(tmp_path):
    skimage.io.imsave(
        tmp_path / "flat.png", np.full((20, 20), 7, dtype=np.uint8), check_contrast=False
    )
    with pytest.raises(ValueError, match="is constant"):
        prepare(tmp_path / "flat.png", tmp_path / "out.npz", PHYSICS)
    nan_image = np.ones((20, 20), dtype=np.float32)
    nan_image[3, 3] = np.nan
    skimage.io.imsave(tmp_path / "nan.tif", nan_image)
    with pytest.raises(ValueError, match="NaN"):
        prepare(tmp_path / "nan.tif", tmp_path / "out.npz", PHYSICS)


def test_unknown_objects_say_what_exists(tmp_path):
    with pytest.raises(
        ValueError, match="neither an image file nor a built-in image.*moon.*data/raw"
    ):
        read_image("andromeda")
    with pytest.raises(ValueError, match="does not exist"):
        read_image(tmp_path / "missing.png")


def test_simulate_saves_the_measurement_set(tmp_path):
    prepare("moon", tmp_path / "moon.npz", PHYSICS)
    data = simulate(
        tmp_path / "moon.npz",
        tmp_path / "m.npz",
        noise=NoiseConfig(snr_db=30),
        pattern=PatternConfig(kind="random", r_max=12),
        n_samples=4,
        seed=3,
    )
    loaded = load_measurements(tmp_path / "m.npz")
    assert torch.equal(loaded.intensities, data.intensities) and loaded.snr_db == 30
    assert loaded.centers.shape == (4, 1, 2) and loaded.seed == 3


def test_a_pattern_may_set_its_own_aperture_diameter(tmp_path):
    prepare("moon", tmp_path / "moon.npz", PHYSICS)
    pattern = PatternConfig(kind="fermat", r_max=12, sample_diameter=4)
    data = simulate(
        tmp_path / "moon.npz",
        tmp_path / "m.npz",
        noise=NoiseConfig(),
        pattern=pattern,
        n_samples=3,
        seed=0,
    )
    assert data.sample_diameter == 4 != PHYSICS.sample_diameter
    assert data.intensities.shape[-1] == data.detector().size == 2 * (4 + 1)


def test_resolved_settings_are_what_runs_and_gets_logged(tmp_path):
    from prism.config import from_mapping
    from prism.solvers import find
    from prism.solvers.epie import EPIEConfig
    from prism.solvers.prism import build_trainer
    from prism.solvers.prism import resolve as resolve_prism
    from prism.solvers.prism.settings import PrismConfig

    prepare("moon", tmp_path / "moon.npz", PHYSICS)
    data = simulate(
        tmp_path / "moon.npz",
        tmp_path / "m.npz",
        noise=NoiseConfig(),
        pattern=PatternConfig(kind="fermat", r_max=12),
        n_samples=3,
        seed=5,
    )
    union = from_mapping(PrismConfig, {"training": {"old_mode": "union"}}, "prism")
    config = resolve_prism(union, data)
    assert config.decoder.seed == 5 and config.training.old_mode == "union"
    trainer = build_trainer(data, config)
    assert trainer.model.config.seed == 5 and trainer.telescope_agg.mode == "union"
    assert trainer.config.old_mode == "union"
    assert find("epie").resolved(EPIEConfig(), data).seed == 5
    assert find("prism-union").resolved(union, data) == config


@pytest.mark.parametrize("noise", [NoiseConfig(snr_db=40), NoiseConfig(photons=1e6)])
def test_noise_floor_estimates_the_loss_between_noisy_and_clean_data(tmp_path, noise):
    from prism.config import from_mapping
    from prism.core.operator import noise_floor
    from prism.core.optics import amplitude
    from prism.solvers.prism import resolve as resolve_prism
    from prism.solvers.prism.losses import LossAggregator
    from prism.solvers.prism.settings import PrismConfig

    prepare("moon", tmp_path / "moon.npz", PHYSICS)
    common = {"pattern": PatternConfig(kind="fermat", r_max=12), "n_samples": 6, "seed": 3}
    clean = simulate(tmp_path / "moon.npz", tmp_path / "c.npz", noise=NoiseConfig(), **common)
    noisy = simulate(tmp_path / "moon.npz", tmp_path / "n.npz", noise=noise, **common)
    distance = LossAggregator("l1").distance
    true = distance(amplitude(noisy.intensities), amplitude(clean.intensities)).item()
    floor = noise_floor(noisy, distance)
    assert 0.8 * true < floor < 1.2 * true and noise_floor(clean, distance) == 0
    default = PrismConfig()
    assert resolve_prism(default, noisy).training.floor == pytest.approx(floor)
    assert resolve_prism(default, noisy).training.floor_stop == pytest.approx(1.2 * floor)
    assert resolve_prism(default, clean).training.floor_stop == 0
    off = from_mapping(PrismConfig, {"training": {"noise_stop": None}}, "prism")
    assert resolve_prism(off, noisy).training.floor_stop == 0


def test_an_object_name_takes_exactly_one_image_file(tmp_path):
    from prism.images import image_file

    image = np.eye(8, dtype=np.uint8) * 255
    for name in ("m51.png", "m51.old.png", "m51.$(touch pwned).png"):  # only the first is m51
        skimage.io.imsave(tmp_path / name, image, check_contrast=False)
    assert image_file("m51", tmp_path) == tmp_path / "m51.png"
    assert image_file("m82", tmp_path) is None  # a built-in name, or an unknown object
    (tmp_path / "m51.tif").write_bytes(b"x")
    with pytest.raises(ValueError, match="'m51' has several image files .*: m51.png, m51.tif"):
        image_file("m51", tmp_path)


@pytest.mark.parametrize("suffix", [".webp", ".gif"])
def test_an_unsupported_image_format_is_named(tmp_path, suffix):
    from prism.images import image_file

    (tmp_path / f"crab{suffix}").write_bytes(b"x")
    with pytest.raises(ValueError, match=f"suffix '{suffix}' are not read; supported: .png"):
        image_file("crab", tmp_path)


def test_an_image_not_pulled_from_dvc_says_so(tmp_path):
    from prism.images import image_file

    (tmp_path / "m51.png.dvc").write_text("outs: []\n")
    with pytest.raises(ValueError, match="m51.png is not here: run `dvc pull`"):
        image_file("m51", tmp_path)


def test_a_fits_image_is_read_top_row_first_with_blank_pixels_darkest(tmp_path):
    from astropy.io import fits

    from prism.images import image_file

    plane = np.arange(12.0).reshape(1, 3, 4)  # an axis of length 1, as cubes of one plane have
    plane[0, 1, 1] = np.nan
    empty_primary = fits.PrimaryHDU()
    fits.HDUList([empty_primary, fits.ImageHDU(plane)]).writeto(tmp_path / "m51.fits")
    assert image_file("m51", tmp_path) == tmp_path / "m51.fits"
    image = read_image(tmp_path / "m51.fits")
    expected = np.flipud(np.where(np.isnan(plane[0]), 0.0, plane[0]))
    assert np.array_equal(image, expected)
    prepare(tmp_path / "m51.fits", tmp_path / "m51.npz", PHYSICS)
    assert load_arrays(tmp_path / "m51.npz")["object"].max() == pytest.approx(1)


def test_a_fits_cube_is_refused_naming_its_shape(tmp_path):
    from astropy.io import fits

    fits.PrimaryHDU(np.ones((2, 3, 4))).writeto(tmp_path / "cube.fits")
    with pytest.raises(ValueError, match=r"holds 2 image planes \(shape \(2, 3, 4\)\)"):
        read_image(tmp_path / "cube.fits")


@pytest.mark.parametrize("suffix", [".png", ".tif", ".fits"])
def test_an_image_beyond_the_pixel_limit_is_refused_before_it_is_read(
    tmp_path, monkeypatch, suffix
):
    from astropy.io import fits

    from prism import images

    path = tmp_path / f"big{suffix}"
    image = (np.arange(30 * 40).reshape(30, 40) % 256).astype(np.uint8)
    if suffix == ".fits":
        fits.PrimaryHDU(image.astype(np.float32)).writeto(path)
    else:
        skimage.io.imsave(path, image, check_contrast=False)
    assert images.image_shape(path) == (30, 40)
    monkeypatch.setattr(images, "MAX_PIXELS", 30 * 40 - 1)
    message = f"big{suffix} has 30 x 40 = 1200 pixels; at most 1199"
    with pytest.raises(ValueError, match=message):
        images.image_file("big", tmp_path)
    for reader in ("_read_picture", "_read_tiff", "_read_fits"):
        monkeypatch.setattr(images, reader, lambda path: pytest.fail("decoded"))
    with pytest.raises(ValueError, match=message):
        read_image(path)


def test_the_generated_target_holds_bars_down_to_two_pixels(tmp_path):
    target = read_image("target")
    assert target.shape == (256, 256) and target.min() == 0 and target.max() == 1
    assert np.array_equal(target, read_image("target"))  # generated, the same every time
    finest = target[100, 128:]  # the last group of vertical bars: period 2
    assert np.array_equal(finest[:8], [0, 1, 0, 1, 0, 1, 0, 1])
    assert np.array_equal(target[128:, 100][:8], finest[:8])  # horizontal bars: transposed
    prepare("target", tmp_path / "target.npz", PHYSICS)
    assert load_arrays(tmp_path / "target.npz")["object"].max() == pytest.approx(1)


def write_planes(path, planes: int) -> None:
    """A file of ``planes`` grey planes, in the format its suffix names."""
    from astropy.io import fits

    stack = (np.arange(planes * 12 * 10).reshape(planes, 12, 10) % 251).astype(np.uint8)
    if path.suffix == ".tif":
        tifffile.imwrite(path, stack, photometric="minisblack")
    elif path.suffix == ".fits":
        fits.PrimaryHDU(stack.astype(np.float32)).writeto(path)
    else:  # an animated PNG
        frames = [PIL.Image.fromarray(plane) for plane in stack]
        frames[0].save(path, save_all=True, append_images=frames[1:])


@pytest.mark.parametrize("suffix", [".tif", ".fits", ".png"])
@pytest.mark.parametrize("planes", [2, 3, 5])
def test_every_file_of_several_planes_is_refused_with_its_count(tmp_path, suffix, planes):
    write_planes(tmp_path / f"stack{suffix}", planes)
    with pytest.raises(ValueError, match=f"holds {planes} image planes"):
        read_image(tmp_path / f"stack{suffix}")


def test_colour_modes_are_read_or_named(tmp_path):
    grey = (np.arange(16 * 16).reshape(16, 16) % 200 + 20).astype(np.uint8)
    PIL.Image.fromarray(np.stack([grey, grey], -1), "LA").save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png").shape == (16, 16, 4)  # grey + alpha: as RGBA
    tifffile.imwrite(tmp_path / "ga.tif", np.stack([grey, grey], -1), extrasamples=[2])
    assert np.array_equal(read_image(tmp_path / "ga.tif")[..., 0], grey)
    planar = np.stack([grey, grey, grey])
    tifffile.imwrite(tmp_path / "rgb.tif", planar, photometric="rgb", planarconfig="separate")
    assert read_image(tmp_path / "rgb.tif").shape == (16, 16, 3)  # planar RGB is one plane
    PIL.Image.fromarray(np.stack([grey] * 3, -1)).convert("CMYK").save(tmp_path / "c.jpg")
    with pytest.raises(ValueError, match="in the colour mode CMYK"):
        read_image(tmp_path / "c.jpg")
