"""Settings: what a benchmark is asked to do, each setting declared once (`declarations`, with
the helpers of `declare`), and how the settings files and flags combine into one `Settings`
(`loading`: built-in defaults <- benchmarks.toml [defaults] <- a suite <- flags). The settings
hash is `Settings.settings_hash`: the hashed settings are those declared with `hashed=True`.

May import: `bench.common` and `bench.errors`.

Adding a setting is one field of `Settings`, built with `setting(...)` (or its shorthands
`what`, `how`, `protocol`, `measure`): its flag on `bench run`, its check, its row in the reference
(`python -m bench.reference`) and its place in the hash all follow from that declaration. A new
hashed setting needs `added_later=` the value results written before it had, so their hash
stays the same.
"""

from bench.settings.declarations import (
    FIELDS,
    PHASES,
    TRAINED_PHASES,
    Settings,
    allowed_values,
    setting,
)
from bench.settings.declare import GROUPS
from bench.settings.loading import ROOT_CONFIG, ConfigFile, load_config, resolve

__all__ = [
    "FIELDS",
    "GROUPS",
    "PHASES",
    "TRAINED_PHASES",
    "ROOT_CONFIG",
    "ConfigFile",
    "Settings",
    "allowed_values",
    "load_config",
    "resolve",
    "setting",
]
