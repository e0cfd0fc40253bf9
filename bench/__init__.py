"""bench: a fair, reproducible benchmark of pretrained Keras image backbones."""

from bench.api import dry_run, run
from bench.errors import BenchError

__all__ = ["BenchError", "dry_run", "run"]
__version__ = "0.1.0"
