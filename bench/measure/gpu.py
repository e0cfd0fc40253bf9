"""The GPU, as the running backend and as NVML see it: its name, the backend allocator's peak
memory, and the card's memory in use. Empty (None) on a machine without one, never an error:
provenance and measurements must not fail a run."""

from __future__ import annotations

from functools import cache

import keras


class _TensorFlowGPU:
    def __init__(self, tf, device):
        self.tf = tf
        self.name = tf.config.experimental.get_device_details(device).get("device_name")
        self.name = self.name or device.name

    def reset(self) -> None:
        self.tf.config.experimental.reset_memory_stats("GPU:0")

    def peak_bytes(self) -> int:
        return self.tf.config.experimental.get_memory_info("GPU:0")["peak"]


class _TorchGPU:
    def __init__(self, torch):
        self.torch = torch
        self.name = torch.cuda.get_device_name(0)

    def reset(self) -> None:
        self.torch.cuda.reset_peak_memory_stats()

    def peak_bytes(self) -> int:
        return self.torch.cuda.max_memory_allocated()


class _JaxGPU:
    def __init__(self, device):
        self.device = device
        self.name = device.device_kind

    def reset(self) -> None:  # JAX has no reset: the peak is the process's
        pass

    def peak_bytes(self) -> int:
        return self.device.memory_stats()["peak_bytes_in_use"]


@cache
def backend_gpu():
    """The running backend's first GPU (`name`, `reset()`, `peak_bytes()`), or None."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return _TensorFlowGPU(tf, gpus[0]) if gpus else None
        if backend == "torch":
            import torch

            return _TorchGPU(torch) if torch.cuda.is_available() else None
        if backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            return _JaxGPU(gpus[0]) if gpus and gpus[0].memory_stats() else None
    except Exception:  # noqa: BLE001 - no GPU figure rather than a failed run
        return None
    return None


def gpu_name() -> str | None:
    gpu = backend_gpu()
    return gpu.name if gpu else None


@cache
def nvml():
    """The NVML module (`nvidia-ml-py`), initialised; None without it or without a driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # noqa: BLE001 - not installed, or no NVIDIA driver
        return None


def nvml_gpus() -> list[dict]:
    """Every GPU NVML sees, with its memory and the driver version; [] without NVML."""
    lib = nvml()
    if lib is None:
        return []
    driver = lib.nvmlSystemGetDriverVersion()
    handles = [lib.nvmlDeviceGetHandleByIndex(i) for i in range(lib.nvmlDeviceGetCount())]
    return [
        {
            "name": lib.nvmlDeviceGetName(h),
            "memory_mb": lib.nvmlDeviceGetMemoryInfo(h).total // 2**20,
            "driver": driver,
        }
        for h in handles
    ]


def nvml_used_bytes() -> int | None:
    """Memory in use on the first card, all processes together; None without NVML."""
    lib = nvml()
    return (
        None if lib is None else lib.nvmlDeviceGetMemoryInfo(lib.nvmlDeviceGetHandleByIndex(0)).used
    )
