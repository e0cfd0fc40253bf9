"""Helpers every layer may use, and nothing bench-specific: atomic file writes (`files`),
stable short hashes (`hashing`), where bench caches things (`paths`) and the filter that keeps
TensorFlow's C++ log lines off the terminal (`native_logs`); argparse with one-line errors
and the list and fraction-or-count flag types (`flags`).

May import: only the standard library, and `bench.errors`. Add a module here only when two
layers need it and it knows nothing of models, data or results.
"""
