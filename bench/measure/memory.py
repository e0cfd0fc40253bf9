"""Peak memory of a phase: the backend allocator's GPU peak, NVML's view of the card, host RSS.

The GPU figure is the peak the framework itself allocated, asked of the running backend
(`bench.measure.gpu`: TensorFlow, PyTorch and JAX each keep their own statistics); it is empty, not
zero, where there is no GPU. NVML's device-wide peak, sampled while the phase runs, is recorded
beside it as a cross-check: it must be at least the allocator's peak (it adds the CUDA context
and the allocator's cached blocks).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import psutil

from bench.measure import gpu

MB = 1024 * 1024


class PhaseMemory:
    """Context manager around one phase: resets what can be reset on entry, reads on exit.

    JAX cannot reset its peak, so under JAX the figure is the process's peak so far; running
    each run in its own process keeps it per run.
    """

    def __init__(self, nvml_interval_s: float = 0.05):
        self.peak_gpu_mem_mb: float | None = None
        self.peak_gpu_mem_nvml_mb: float | None = None
        self.peak_host_rss_mb: float | None = None
        self._gpu = gpu.backend_gpu()
        self._nvml = NvmlSampler(nvml_interval_s) if self._gpu else None

    def __enter__(self) -> PhaseMemory:
        reset_host_peak()
        if self._gpu:
            self._gpu.reset()
        if self._nvml:
            self._nvml.start()
        return self

    def __exit__(self, *exc) -> None:
        self.peak_host_rss_mb = host_peak_rss_mb()
        if self._gpu:
            self.peak_gpu_mem_mb = self._gpu.peak_bytes() / MB
        if self._nvml:
            self.peak_gpu_mem_nvml_mb = self._nvml.stop()


class NvmlSampler:
    """Samples the card's used memory (NVML) in a thread; keeps the peak."""

    def __init__(self, interval_s: float):
        self.interval_s = interval_s
        self.peak_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while True:
            self.peak_bytes = max(self.peak_bytes or 0, gpu.nvml_used_bytes())
            if self._stop.wait(self.interval_s):
                return

    def start(self) -> None:
        if gpu.nvml() is not None:  # without NVML the cross-check stays empty
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def stop(self) -> float | None:
        if self._thread is None:
            return None
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes or 0, gpu.nvml_used_bytes())
        return self.peak_bytes / MB


# ---- Host: peak resident set size of this process ------------------------------------------

_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_host_peak() -> bool:
    """Reset the kernel's RSS high-water mark (Linux); elsewhere the peak is the process's."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def host_peak_rss_mb() -> float:
    """Peak RSS since the last reset (Linux), else since the process started."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MB  # kB
    except OSError:
        pass
    info = psutil.Process().memory_info()
    if hasattr(info, "peak_wset"):  # Windows
        return info.peak_wset / MB
    import resource  # macOS and other Unix: ru_maxrss is in bytes on macOS, KiB elsewhere

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak * 1024 / MB
