"""bench: a fair, reproducible benchmark of pretrained Keras image backbones."""

from bench.api import run
from bench.errors import BenchError

__all__ = ["BenchError", "run"]
__version__ = "0.1.0"
