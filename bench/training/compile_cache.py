"""Compile once: compiled programs kept on disk and reused by the later runs of a suite.

Every run has a process of its own, so without a cache on disk each seed and each phase of the
same model compiles its programs from nothing (25-80 s for a 224-px ResNet on a GPU).
- JAX: its persistent compilation cache, in bench's cache folder. Every program is kept (no
  minimum compile time), so the second seed of a model loads all of its programs.
- PyTorch: with --jit, torch.compile's Inductor and Triton caches, in the same folder.
- TensorFlow keeps traced and XLA-compiled functions in the process only: each run compiles.

`CacheHits` counts the programs JAX loaded from the cache during a phase (`compile_cache_hits`).
"""

from __future__ import annotations

import getpass
import os
import tempfile
from pathlib import Path

import keras

from bench.common.paths import cache_root

MAX_JAX_CACHE_BYTES = 4 << 30  # least recently used entries are evicted beyond this


def cache_folder(backend: str) -> Path:
    return cache_root() / "compiled" / backend


def jax_cache_config() -> dict[str, object]:
    """JAX's settings for a cache that keeps every program (no minimum compile time)."""
    return {
        "jax_compilation_cache_dir": str(cache_folder("jax")),
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": -1,
        "jax_compilation_cache_max_size": MAX_JAX_CACHE_BYTES,
    }


def cache_environment() -> dict[str, str]:
    """The environment that points each backend's compilation cache at bench's cache folder,
    for a run's process, which reads it when it imports JAX or torch; a variable the user set
    is left out, so theirs wins."""
    wanted = {name.upper(): str(value) for name, value in jax_cache_config().items()}
    wanted["TORCHINDUCTOR_CACHE_DIR"] = str(cache_folder("torch") / "inductor")
    wanted["TRITON_CACHE_DIR"] = str(cache_folder("torch") / "triton")
    return {name: value for name, value in wanted.items() if not _set_by_user(name)}


def _set_by_user(name: str) -> bool:
    """Whether a cache variable holds a choice of the user's. Importing torch (Keras on the
    torch backend does) writes torch's default inductor folder into the environment, which
    does not count."""
    value = os.environ.get(name)
    if name == "TORCHINDUCTOR_CACHE_DIR":
        return value is not None and Path(value) != torch_default_inductor_folder()
    return value is not None


def torch_default_inductor_folder() -> Path:
    """Where torch puts its inductor cache unless told otherwise."""
    user = "".join(c if c.isalnum() else "_" for c in getpass.getuser())
    return Path(tempfile.gettempdir()) / f"torchinductor_{user}"


def enable_persistent_cache() -> None:
    """Turn JAX's cache on in a process that imported JAX without that environment
    (`--in-process`, a script); it takes effect if nothing has been compiled yet."""
    if keras.backend.backend() != "jax":
        return
    import jax

    if jax.config.jax_compilation_cache_dir:  # set by the environment, or by the user
        return
    for name, value in jax_cache_config().items():
        jax.config.update(name, value)


class CacheHits:
    """Programs loaded from JAX's persistent compilation cache while the block runs; None on
    the other backends, whose runs compile afresh."""

    _listening = False
    _hits = 0

    def __enter__(self) -> CacheHits:
        self.count: int | None = None
        if keras.backend.backend() == "jax":
            CacheHits._listen()
            self._start = CacheHits._hits
        return self

    def __exit__(self, *_) -> None:
        if keras.backend.backend() == "jax":
            self.count = CacheHits._hits - self._start

    @classmethod
    def _listen(cls) -> None:
        if cls._listening:  # JAX has no way to remove a listener: register one per process
            return
        import jax

        def count(event: str, **_) -> None:
            if event == "/jax/compilation_cache/cache_hits":
                cls._hits += 1

        jax.monitoring.register_event_listener(count)
        cls._listening = True
