"""bench.data.corruptions: CIFAR-10-C's corruptions (Hendrycks & Dietterich, ICLR 2019) on
real CIFAR-10 images, checked against hand computations with the levels of make_cifar_c.py.

Speed (not a test: measured once on this shared 2-core CPU with the command in the module's
docstring), ms per 1000 CIFAR images, mean of the five severities: gaussian_noise 54,
shot_noise 138, impulse_noise 38, defocus_blur 47, glass_blur 153, motion_blur 238,
zoom_blur 157, fog 60, brightness 79, contrast 50, pixelate 109, jpeg_compression 167,
speckle_noise 51, gaussian_blur 35: all 14 at one severity 1.4 s per 1000 images, so
CIFAR-10's 10,000 test images at all five severities take about 70 s.
"""

from __future__ import annotations

import colorsys
import io
import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from bench.data.corruptions import CORRUPTIONS, LEVELS, SEVERITIES, corrupt
from tests.helpers import CIFAR_MINI

ORDER = [
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "fog",
    "brightness",
    "contrast",
    "pixelate",
    "jpeg_compression",
    "speckle_noise",
    "gaussian_blur",
]
RANDOM = {"gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur"}
RANDOM |= {"motion_blur", "fog"}


def load(paths: list) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted(paths)])


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """All 180 fixture images, 32x32: natural-looking, varied."""
    return load(list(CIFAR_MINI.glob("*/*/*.jpg")))


@pytest.fixture(scope="module")
def corrupted(images) -> dict[tuple[str, int], np.ndarray]:
    """Every corruption at every severity of the fixture batch, seed 0, computed once."""
    return {(n, s): corrupt(images, n, s, seed=0) for n in CORRUPTIONS for s in (0, *SEVERITIES)}


def mean_change(out: np.ndarray, clean: np.ndarray) -> float:
    return float(np.abs(out.astype(np.float64) - clean).mean())


def test_the_registry_is_the_scripts_order_with_five_levels_each():
    assert list(CORRUPTIONS) == ORDER
    assert SEVERITIES == (1, 2, 3, 4, 5)
    assert all(len(levels) == 5 for levels in LEVELS.values()) and set(LEVELS) == set(ORDER)


@pytest.mark.parametrize("name", ORDER)
def test_severity_zero_is_an_unchanged_copy(images, name):
    out = corrupt(images, name, 0, seed=3)
    np.testing.assert_array_equal(out, images)
    assert not np.shares_memory(out, images)


@pytest.mark.parametrize("name", ORDER)
def test_every_severity_keeps_shape_and_dtype_and_changes_the_images(images, corrupted, name):
    for severity in SEVERITIES:
        out = corrupted[name, severity]
        assert out.shape == images.shape and out.dtype == np.uint8
        assert (out != images).any(), f"{name} {severity} left the images unchanged"


@pytest.mark.parametrize("name", ORDER)
def test_other_sizes_work(images, name):
    big = np.stack([np.asarray(Image.fromarray(x).resize((64, 64), Image.BICUBIC)) for x in images])
    wide = big[:4, 20:44]  # 24 x 64
    for severity in SEVERITIES:
        for batch in (big[:12], wide):
            out = corrupt(batch, name, severity, seed=1)
            assert out.shape == batch.shape and out.dtype == np.uint8
            assert (out != batch).any(), f"{name} {severity} left {batch.shape} unchanged"


@pytest.mark.parametrize("name", ORDER)
def test_the_same_seed_repeats_and_another_seed_differs_for_the_random_ones(images, name):
    first, again = (corrupt(images[:20], name, 3, seed=11) for _ in range(2))
    np.testing.assert_array_equal(first, again)
    other = corrupt(images[:20], name, 3, seed=12)
    assert (other != first).any() == (name in RANDOM)


@pytest.mark.parametrize("name", sorted(set(ORDER) - {"glass_blur"}))
def test_the_mean_change_grows_with_severity(images, corrupted, name):
    change = [mean_change(corrupted[name, s], images) for s in (0, *SEVERITIES)]
    for severity in SEVERITIES:
        before, now = change[severity - 1], change[severity]
        if (name, severity) == ("motion_blur", 4):
            # (8, 2) after (6, 2): the same sigma, the extra taps weigh < 1e-9
            assert now == pytest.approx(before, rel=1e-3)
        else:
            assert now > before, f"{name}: {change}"


def test_glass_blur_moves_more_with_iterations_and_blurs_more_with_sigma(images, corrupted):
    # Levels (sigma, delta, iterations): (.05, 1, 1), (.25, 1, 1), (.4, 1, 1), (.25, 1, 2),
    # (.4, 1, 2). Blurring smooths the copied pixels back, so within one iteration count the
    # mean change need not grow; the sharpness (energy of second
    # differences along rows and columns) falls with sigma.
    out = [corrupted["glass_blur", s].astype(np.float64) for s in SEVERITIES]
    change = [mean_change(x, images) for x in out]
    assert min(change) > 0 and max(change[:3]) < min(change[3:])
    sharp = [np.mean(np.diff(x, 2, axis=1) ** 2) + np.mean(np.diff(x, 2, axis=2) ** 2) for x in out]
    assert sharp[0] > sharp[1] > sharp[2] and sharp[3] > sharp[4]


def test_gaussian_noise_is_the_hand_computation_with_the_same_draws(images):
    for severity, c in zip(SEVERITIES, (0.04, 0.06, 0.08, 0.09, 0.10), strict=True):
        noise = np.random.default_rng(7).normal(0.0, c, images.shape)
        expected = (np.clip(images / 255 + noise, 0, 1) * 255).astype(np.uint8)
        np.testing.assert_array_equal(corrupt(images, "gaussian_noise", severity, 7), expected)


def test_contrast_is_the_hand_computation(images):
    x = images / 255
    mean = x.mean(axis=(1, 2), keepdims=True)  # per image and channel
    for severity, c in zip(SEVERITIES, (0.75, 0.5, 0.4, 0.3, 0.15), strict=True):
        expected = (np.clip((x - mean) * c + mean, 0, 1) * 255).astype(np.uint8)
        np.testing.assert_array_equal(corrupt(images, "contrast", severity, 0), expected)


def test_brightness_is_the_hsv_round_trip(images):
    few = images[::30]
    for severity, c in zip(SEVERITIES, (0.05, 0.1, 0.15, 0.2, 0.3), strict=True):
        expected = np.empty(few.shape)
        for index in np.ndindex(few.shape[:3]):
            h, s, v = colorsys.rgb_to_hsv(*(few[index] / 255))
            expected[index] = colorsys.hsv_to_rgb(h, s, min(v + c, 1.0))
        out = corrupt(few, "brightness", severity, 0).astype(int)
        assert np.abs(out - (expected * 255).astype(np.uint8)).max() <= 1  # float rounding


def test_pixelate_of_a_constant_image_is_the_image():
    for value in (0, 1, 97, 254, 255):
        for side in (32, 64):
            flat = np.full((2, side, side, 3), value, np.uint8)
            for severity in SEVERITIES:
                np.testing.assert_array_equal(corrupt(flat, "pixelate", severity, 0), flat)


def test_pixelate_is_pillows_box_resize_down_and_up(images):
    for severity, c in zip(SEVERITIES, (0.95, 0.9, 0.85, 0.75, 0.65), strict=True):
        small = (int(32 * c), int(32 * c))
        boxed = [
            Image.fromarray(x).resize(small, Image.BOX).resize((32, 32), Image.BOX) for x in images
        ]
        expected = np.stack([np.asarray(b) for b in boxed])
        np.testing.assert_array_equal(corrupt(images, "pixelate", severity, 0), expected)


def test_jpeg_decodes_like_pillow_at_the_quality(images):
    for severity, quality in zip(SEVERITIES, (80, 65, 58, 50, 40), strict=True):
        out = corrupt(images[:30], "jpeg_compression", severity, 0)
        for x, y in zip(images[:30], out, strict=True):
            buffer = io.BytesIO()
            Image.fromarray(x).save(buffer, "JPEG", quality=quality)
            np.testing.assert_array_equal(y, np.asarray(Image.open(buffer)))


def test_zoom_blur_is_the_scripts_clipped_zoom_with_scipy(images):
    few = images[:8]
    x = (few / 255).astype(np.float32)
    out = x.copy()
    factors = np.arange(1, 1.16, 0.01)  # severity 3
    for z in factors:
        crop = math.ceil(32 / z)
        top = (32 - crop) // 2
        zoomed = ndimage.zoom(x[:, top : top + crop, top : top + crop], (1, z, z, 1), order=1)
        trim = (zoomed.shape[1] - 32) // 2
        out += zoomed[:, trim : trim + 32, trim : trim + 32]
    expected = (np.clip(out / (len(factors) + 1), 0, 1) * 255).astype(np.uint8)
    difference = np.abs(corrupt(few, "zoom_blur", 3, 0).astype(int) - expected)
    assert difference.max() <= 1 and (difference > 0).mean() < 0.001  # float rounding


@pytest.mark.parametrize(
    ("name", "severity", "message"),
    [
        ("snow", 1, "gaussian_noise, shot_noise"),
        ("fog", 6, "0, 1, 2, 3, 4, 5"),
        ("fog", -1, "0, 1, 2, 3, 4, 5"),
        ("fog", 2.0, "0, 1, 2, 3, 4, 5"),
    ],
)
def test_an_unknown_name_or_severity_names_the_allowed_ones(images, name, severity, message):
    with pytest.raises(ValueError, match=message):
        corrupt(images, name, severity, 0)


def test_images_must_be_a_uint8_rgb_batch(images):
    for bad in (images.astype(np.float32), images[0], images[..., :1]):
        with pytest.raises(ValueError, match="N, H, W, 3"):
            corrupt(bad, "fog", 1, 0)
