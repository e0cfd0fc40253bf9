"""Common image corruptions at five severities, as CIFAR-10-C.

Source: Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions
and Perturbations" (ICLR 2019). The definitions, their order and the five levels of each
(`_TABLE`) are those of their `make_cifar_c.py` (github.com/hendrycks/robustness).

`corrupt(images, name, severity, seed)`: a uint8 batch (N, H, W, 3) in, the same shape out,
deterministic for a seed (`np.random.default_rng(seed)`, never NumPy's global state, so the
draws are not the script's); severity 0 returns a copy. As the script's `np.uint8`, float
results are clipped to [0, 1], times 255 and truncated, not rounded.

Checked against the script's code on the test fixtures (with scikit-image, cv2, Pillow):
equal are gaussian_blur, contrast, glass_blur and fog's fractal (fed the same draws), pixelate
(Pillow's BOX resize as matrices in its 22-bit fixed point), jpeg_compression (Pillow); off by
1 in < 3% of values (float rounding before the truncation) are defocus_blur (cv2's kernel in
NumPy), zoom_blur (scipy's bilinear zoom as a matrix per axis), brightness. Deviations, why:
- impulse_noise: skimage's salt & pepper drawn directly (scikit-image is no dependency):
  each value flipped with probability c, to 0 or 1 with equal odds.
- brightness: the script adds c to the HSV value and converts back; with hue and saturation
  kept RGB scales with V, so x * min(V + c, 1) / V (gray V + c where V = 0): no round trip.
- glass_blur: the script's `x[h, w], x[h', w'] = x[h', w'], x[h, w]` on NumPy views copies
  the neighbour into (h, w) and leaves the neighbour as it was: that copy (what CIFAR-10-C
  holds) is reproduced, not a swap, in a loop vectorised over the batch only. Its mean change
  grows with the iterations (levels 1-3 < 4-5) and its blur with sigma, but by definition
  the mean change need not grow within levels 1-3 (more blur smooths the copies back).
- motion_blur: ImageMagick's MotionBlurImage written out (no Wand): 2 ceil(radius) + 1 taps
  on a one-sided line, weights exp(-i^2 / 2 sigma^2), tap i at (ceil(i cos a - 0.5),
  ceil(i sin a - 0.5)), a ~ U(-45, 45) degrees per image, edges repeated, rounded to uint8 as
  its 8-bit PNG was. Levels 3 and 4 are equal in effect by definition (sigma 2 both; the
  taps radius 8 adds weigh < 1e-9).
- Not here: snow, frost, spatter, elastic_transform (image files, Wand, cv2 pipelines) and
  saturate (levels 1-2 desaturate, 3-5 oversaturate: not monotone in effect).

Other sizes: the levels are for 32x32; with s = sqrt(H * W) / 32 (side / 32 if square) the
pixel lengths scale by s: blur sigmas and radii, glass's max_delta (rounded, >= 1), defocus's
anti-alias support; the fog map is the next power of two >= max(H, W); the rest is relative.

Adding a corruption: one function `f(images, c, rng, s)` (uint8 batch, the level's parameter,
Generator, scale) returning floats in [0, 1] (`corrupt` clips and truncates) or the finished
uint8 batch, and one line in `_TABLE` with its five levels.

Speed, ms per 1000 CIFAR images (mean of the five severities; this 2-core CPU, shared, load
~2.7, +-15% between runs): gaussian_noise 54, shot_noise 138, impulse_noise 38, defocus_blur
47, glass_blur 153, motion_blur 238, zoom_blur 157, fog 60, brightness 79, contrast 50,
pixelate 109, jpeg_compression 167, speckle_noise 51, gaussian_blur 35. Measured with:

    python -c "if 1:
        import glob, time, numpy as np; from PIL import Image; from bench.data.corruptions import *
        x = [np.asarray(Image.open(f)) for f in glob.glob('tests/fixtures/cifar10-mini/*/*/*')]
        x = np.resize(x, (1000, 32, 32, 3))
        for n in CORRUPTIONS:
            t = time.perf_counter(); [corrupt(x, n, s, 0) for s in SEVERITIES]
            print(n, round((time.perf_counter() - t) * 1000 / len(SEVERITIES)))"
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

Corruption = Callable[[np.ndarray, Any, np.random.Generator, float], np.ndarray]
SEVERITIES = (1, 2, 3, 4, 5)


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    # skimage.filters.gaussian(multichannel=True): spatial axes only, nearest, truncate 4
    return ndimage.gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="nearest", truncate=4.0)


def _gaussian_noise(images: np.ndarray, c: float, rng: np.random.Generator, s: float):
    return images / 255.0 + rng.normal(size=images.shape, scale=c)


def _shot_noise(images: np.ndarray, c: float, rng: np.random.Generator, s: float):
    return rng.poisson(images / 255.0 * c) / c


def _impulse_noise(images: np.ndarray, c: float, rng: np.random.Generator, s: float):
    flipped = rng.random(images.shape) < c
    salted = rng.random(images.shape) < 0.5
    return np.where(flipped, salted.astype(np.float64), images / 255.0)


def _speckle_noise(images: np.ndarray, c: float, rng: np.random.Generator, s: float):
    x = images / 255.0
    return x + x * rng.normal(size=x.shape, scale=c)


def _gaussian_blur(images: np.ndarray, c: float, rng: np.random.Generator, s: float):
    return _gauss(images / 255.0, c * s)


def _disk(radius: float, alias_blur: float, s: float) -> np.ndarray:
    """The script's `disk`: an aliased disk, normalised, then cv2.GaussianBlur 3x3 (at s=1)."""
    radius, alias_blur, half_blur = radius * s, alias_blur * s, max(1, round(s))
    # Zeros beyond the blurred disk change nothing, so a smaller grid than the script's 17x17
    # suffices; a margin of 2 * half_blur keeps cv2's reflect-101 border inside the zeros.
    grid = np.arange(-math.ceil(radius) - 2 * half_blur, math.ceil(radius) + 2 * half_blur + 1)
    disk = (grid[:, None] ** 2 + grid[None, :] ** 2 <= radius**2).astype(np.float64)
    taps = np.exp(-(np.arange(-half_blur, half_blur + 1) ** 2) / (2 * alias_blur**2))
    taps /= taps.sum()
    kernel = ndimage.correlate(disk / disk.sum(), np.outer(taps, taps), mode="mirror")
    keep = np.flatnonzero(kernel.any(axis=0))  # symmetric: the same rows and columns
    # float32 as the script's: its rounding decides the truncation of flat areas
    return kernel[keep[0] : keep[-1] + 1, keep[0] : keep[-1] + 1].astype(np.float32)


def _defocus_blur(images: np.ndarray, c: tuple, rng: np.random.Generator, s: float):
    # cv2.filter2D's default border is reflect-101, scipy's "mirror"
    return ndimage.correlate(images / 255.0, _disk(*c, s)[None, :, :, None], mode="mirror")


def _glass_blur(images: np.ndarray, c: tuple, rng: np.random.Generator, s: float):
    sigma, delta, iterations = c[0] * s, max(1, round(c[1] * s)), c[2]
    x = (_gauss(images / 255.0, sigma) * 255).astype(np.uint8)
    n, (height, width) = np.arange(len(x)), x.shape[1:3]
    for _ in range(iterations):
        # randint(-delta, delta): the high end is excluded, as in the script
        shifts = rng.integers(-delta, delta, size=(height, width, 2, len(x)))
        for h in range(height - delta, delta, -1):
            for w in range(width - delta, delta, -1):
                dx, dy = shifts[h, w]
                x[n, h, w] = x[n, h + dy, w + dx]  # the script's "swap" (module docstring)
    return _gauss(x / 255.0, sigma)


def _motion_blur(images: np.ndarray, c: tuple, rng: np.random.Generator, s: float):
    taps = np.arange(2 * math.ceil(c[0] * s) + 1)  # c: (radius, sigma)
    weights = np.exp(-(taps**2) / (2 * (c[1] * s) ** 2)).astype(np.float32)
    angle = np.deg2rad(rng.uniform(-45, 45, size=len(images)))[:, None]
    dx = np.ceil(taps * np.cos(angle) - 0.5).astype(np.intp)  # (N, taps)
    dy = np.ceil(taps * np.sin(angle) - 0.5).astype(np.intp)
    pad = len(taps)
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    n, (height, width) = np.arange(len(images))[:, None, None], images.shape[1:3]
    rows = pad + np.arange(height)[:, None] + dy.T[:, :, None, None]  # (taps, N, H, 1)
    cols = pad + np.arange(width) + dx.T[:, :, None, None]  # (taps, N, 1, W)
    out = sum(w * padded[n, r, col] for w, r, col in zip(weights, rows, cols, strict=True))
    return np.clip(np.rint(out / weights.sum()), 0, 255).astype(np.uint8)


def _zoom_rows(size: int, z: float) -> np.ndarray:
    """The script's clipped_zoom along one axis as a (size, size) matrix: the centre crop
    zoomed by scipy.ndimage.zoom(order=1), whose output i samples i (crop - 1) / (out - 1)."""
    crop = math.ceil(size / z)
    zoomed = round(crop * z)
    pos = (np.arange(size) + (zoomed - size) // 2) * (crop - 1) / (zoomed - 1)
    lo = np.minimum(pos.astype(np.intp), crop - 2)
    rows, first = np.arange(size), (size - crop) // 2 + lo
    m = np.zeros((size, size), np.float32)
    m[rows, first] = 1 - (pos - lo)
    m[rows, first + 1] += pos - lo
    return m


def _zoom_blur(images: np.ndarray, c: float, rng: np.random.Generator, s: float):
    # bilinear zoom is separable: one matrix product per axis, over the whole batch at once
    x = (images / 255.0).astype(np.float32).transpose(0, 3, 1, 2)  # (N, 3, H, W)
    factors = np.arange(1, c, 0.01)  # the script's np.arange(1, stop, 0.01)
    out = x.copy()
    for z in factors:
        out += _zoom_rows(x.shape[2], z) @ x @ _zoom_rows(x.shape[3], z).T
    return (out / (len(factors) + 1)).transpose(0, 2, 3, 1)


def _plasma(n: int, size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """The script's plasma_fractal (diamond-square), n maps at once, each scaled to [0, 1]."""
    m = np.zeros((n, size, size))
    step, wibble = size, 100.0

    def wibbled_mean(total: np.ndarray) -> np.ndarray:
        # wibble * U(-wibble, wibble): the script's own (squared) amplitude
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = m[:, ::step, ::step]
        squares = corners + np.roll(corners, -1, axis=1)
        m[:, half::step, half::step] = wibbled_mean(squares + np.roll(squares, -1, axis=2))
        dr, ul = m[:, half::step, half::step], m[:, ::step, ::step]
        left = dr + np.roll(dr, 1, axis=1) + ul + np.roll(ul, -1, axis=2)
        top = dr + np.roll(dr, 1, axis=2) + ul + np.roll(ul, -1, axis=1)
        m[:, ::step, half::step], m[:, half::step, ::step] = wibbled_mean(left), wibbled_mean(top)
        step, wibble = half, wibble / decay
    m -= m.min(axis=(1, 2), keepdims=True)
    return m / m.max(axis=(1, 2), keepdims=True)


def _fog(images: np.ndarray, c: tuple, rng: np.random.Generator, s: float):
    x = images / 255.0
    height, width = x.shape[1:3]
    size = 1 << (max(height, width) - 1).bit_length()  # 32 for CIFAR, as the script
    max_val = x.max(axis=(1, 2, 3), keepdims=True)
    x = x + c[0] * _plasma(len(x), size, c[1], rng)[:, :height, :width, None]
    return x * max_val / (max_val + c[0])


def _brightness(images: np.ndarray, c: float, rng: np.random.Generator, s: float):
    x = images / 255.0
    value = x.max(axis=3, keepdims=True)
    brighter = np.minimum(value + c, 1.0)
    ratio = np.divide(brighter, value, out=np.zeros_like(value), where=value > 0)
    return np.where(value > 0, x * ratio, brighter)


def _contrast(images: np.ndarray, c: float, rng: np.random.Generator, s: float):
    x = images / 255.0
    means = x.mean(axis=(1, 2), keepdims=True)
    return (x - means) * c + means


def _box_weights(size_in: int, size_out: int) -> np.ndarray:
    """Pillow's BOX coefficients (Resample.c), a matrix (out, in) of 22-bit fixed point."""
    scale = size_in / size_out
    support = 0.5 * max(scale, 1.0)
    weights = np.zeros((size_out, size_in))
    for out in range(size_out):
        center = (out + 0.5) * scale
        lo, hi = max(int(center - support + 0.5), 0), min(int(center + support + 0.5), size_in)
        pos = (np.arange(lo, hi) - center + 0.5) / max(scale, 1.0)
        weights[out, lo:hi] = (pos > -0.5) & (pos <= 0.5)
        weights[out] /= weights[out].sum()
    return np.floor(weights * (1 << 22) + 0.5)


def _resize_box(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pillow's `resize(..., BOX)` of (N, 3, H, W) 8-bit values: the horizontal pass, then the
    vertical, each rounded to 8 bits; float64 holds the fixed-point sums (< 2^53) exactly."""
    for axis, size in ((3, width), (2, height)):
        summed = np.moveaxis(x, axis, -1) @ _box_weights(x.shape[axis], size).T
        x = np.moveaxis(np.clip(np.floor((summed + (1 << 21)) / (1 << 22)), 0, 255), -1, axis)
    return x


def _pixelate(images: np.ndarray, c: float, rng: np.random.Generator, s: float):
    height, width = images.shape[1:3]
    x = images.transpose(0, 3, 1, 2).astype(np.float64)
    small = _resize_box(x, max(1, int(height * c)), max(1, int(width * c)))
    x = _resize_box(small, height, width)
    return x.transpose(0, 2, 3, 1).astype(np.uint8)


def _jpeg_compression(images: np.ndarray, c: int, rng: np.random.Generator, s: float):
    out = np.empty_like(images)
    for i, image in enumerate(images):  # one encoder call per image: no batched JPEG
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=c)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


# name: (function, its levels 1-5 from make_cifar_c.py), in the script's order
_TABLE: dict[str, tuple[Corruption, tuple]] = {
    "gaussian_noise": (_gaussian_noise, (0.04, 0.06, 0.08, 0.09, 0.10)),
    "shot_noise": (_shot_noise, (500, 250, 100, 75, 50)),
    "impulse_noise": (_impulse_noise, (0.01, 0.02, 0.03, 0.05, 0.07)),
    "defocus_blur": (_defocus_blur, ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))),
    "glass_blur": (
        _glass_blur,
        ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),
    ),
    "motion_blur": (_motion_blur, ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))),
    "zoom_blur": (_zoom_blur, (1.06, 1.11, 1.16, 1.21, 1.26)),  # np.arange(1, stop, 0.01)
    "fog": (_fog, ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))),
    "brightness": (_brightness, (0.05, 0.1, 0.15, 0.2, 0.3)),
    "contrast": (_contrast, (0.75, 0.5, 0.4, 0.3, 0.15)),
    "pixelate": (_pixelate, (0.95, 0.9, 0.85, 0.75, 0.65)),
    "jpeg_compression": (_jpeg_compression, (80, 65, 58, 50, 40)),
    "speckle_noise": (_speckle_noise, (0.06, 0.1, 0.12, 0.16, 0.2)),
    "gaussian_blur": (_gaussian_blur, (0.4, 0.6, 0.7, 0.8, 1)),
}
CORRUPTIONS: dict[str, Corruption] = {name: fn for name, (fn, _) in _TABLE.items()}
LEVELS: dict[str, tuple] = {name: levels for name, (_, levels) in _TABLE.items()}


def corrupt(images: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """`images` (N, H, W, 3) uint8 corrupted by `name` at `severity` (0: an unchanged copy)."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")
    if not isinstance(severity, (int, np.integer)) or severity not in (0, *SEVERITIES):
        raise ValueError(f"severity must be one of 0, {', '.join(map(str, SEVERITIES))}")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError("images must be a uint8 NumPy array (N, H, W, 3)")
    if images.shape[3] != 3:
        raise ValueError(f"images must be (N, H, W, 3), not {images.shape}")
    if severity == 0:
        return images.copy()
    scale = math.sqrt(images.shape[1] * images.shape[2]) / 32
    rng = np.random.default_rng(seed)
    out = CORRUPTIONS[name](images, LEVELS[name][severity - 1], rng, scale)
    if out.dtype == np.uint8:
        return out
    return (np.clip(out, 0, 1) * 255).astype(np.uint8)  # truncation, as the script's np.uint8
