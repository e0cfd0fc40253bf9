"""Stable short hashes: run ids, settings hashes and data fingerprints are all made here."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(data: Any, length: int = 12) -> str:
    """A short hash of JSON-able data that does not depend on key order or the process."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
