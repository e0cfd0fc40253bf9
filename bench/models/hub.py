"""KerasHub presets as models (docs/guide/hub.md): `--models hub:<preset>`, where the preset is
one of KerasHub's own names (`hub:resnet_50_imagenet`), a Hugging Face or Kaggle handle
(`hub:hf://timm/resnet18.a1_in1k`, `hub:kaggle://keras/vit/keras/...`) or a local preset
folder (`hub:path/to/folder`); `hub:all` and `hub:family:NAME` choose KerasHub's own image
backbone presets, all of them or one family.

What a name says is known here without fetching anything (KerasHub's own list, or the files of
a local folder), so a preset that cannot be fetched fails in its own run, as a failed row, and
the other models go on; `hub_build` builds the model in the run's process. KerasHub itself is
an optional extra, imported only when a `hub:` name is given.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from bench.errors import BenchError, did_you_mean
from bench.models.hub_build import FIXED_SIZE, HubBackbone
from bench.models.spec import ModelSpec

PREFIX = "hub:"
NEEDS_EXTRA = "hub: models need KerasHub: pip install -e '.[hub]'"
# KerasHub families whose backbones are defined at one input size (position embeddings, the
# attention windows of Swin): they run at it, as a baseline runs at its own.
FIXED_FAMILIES = ("vit", "deit", "swin_transformer")
# Image backbones KerasHub ships without an image classifier task (self-supervised features).
FEATURE_BACKBONES = ("DINOV2Backbone", "DINOV3Backbone")


@dataclass(frozen=True)
class Preset:
    """What bench knows of a preset before anything is fetched."""

    handle: str  # what `from_preset` is given
    name: str  # the model's name in the tables ("hub:..."; Keras refuses "/" in a name)
    family: str
    source: str  # runs.csv's `source`: kerashub:<handle>, pinned to a version or a content hash
    params: int | None = None
    size: int | None = None  # the preset's own input size (its image converter's)
    fixed_size: bool = False  # the backbone runs only at `size`


def installed() -> bool:
    return importlib.util.find_spec("keras_hub") is not None


def keras_hub() -> ModuleType:
    """KerasHub, or the one line that says how to install it."""
    if not installed():
        raise BenchError(NEEDS_EXTRA)
    import keras_hub as module

    return module


def hub_spec(name: str) -> ModelSpec | None:
    """The ModelSpec of `hub:<preset>`, or None for a name of another kind (registry.SOURCES)."""
    if not name.strip().lower().startswith(PREFIX):
        return None
    handle = name.strip()[len(PREFIX) :]
    if handle.lower() == "all" or handle.lower().startswith("family:"):
        raise BenchError(f"{name} chooses several presets: give it to --models, not as one name")
    return to_spec(describe(handle))


def hub_group(pattern: str) -> list[ModelSpec] | None:
    """`hub:all` and `hub:family:NAME` (registry.GROUPS), or None for any other pattern."""
    lower = pattern.strip().lower()
    if lower == f"{PREFIX}all":
        return [to_spec(p) for p in builtin_presets()]
    if not lower.startswith(f"{PREFIX}family:"):
        return None
    family = lower.split(":", 2)[2]
    found = [to_spec(p) for p in builtin_presets() if p.family == family]
    if not found:
        families = sorted({p.family for p in builtin_presets()})
        hint = did_you_mean(family, families, n=3) or f"families: {', '.join(families)}"
        raise BenchError(f"unknown KerasHub family '{family}'; {hint}")
    return found


def to_spec(preset: Preset) -> ModelSpec:
    return ModelSpec(
        name=preset.name,
        family=preset.family,
        build=HubBackbone(preset.handle),
        preprocessing="converter",  # the preset's image converter, inside the backbone model
        module=None,
        default_size=preset.size or 224,
        native_size=preset.size if preset.fixed_size else None,
        source=preset.source,
        pooled=True,  # pooled inside the backbone model, as KerasHub's classifier pools it
    )


def describe(handle: str) -> Preset:
    """A preset from its handle: KerasHub's own, remote, or a local folder."""
    keras_hub()
    if "://" in handle:
        return remote_preset(handle)
    builtin = {p.handle: p for p in builtin_presets()}
    if handle in builtin:  # before a folder of the same name, as KerasHub resolves it
        return builtin[handle]
    folder = Path(handle).expanduser()
    if folder.is_dir():
        return local_preset(folder)
    if "/" in handle or handle.startswith((".", "~")):
        raise BenchError(f"hub:{handle}: no such preset folder")
    hint = did_you_mean(handle, builtin, n=3) or "`bench list --source kerashub` lists them"
    raise BenchError(f"hub:{handle} is not one of KerasHub's image backbone presets; {hint}")


def builtin_presets() -> tuple[Preset, ...]:
    """KerasHub's own image backbone presets: those of every backbone an image classifier task
    is made for, and the self-supervised ViTs it ships without one, by family and name."""
    return _builtin_presets(keras_hub())


@functools.cache
def _builtin_presets(module: ModuleType) -> tuple[Preset, ...]:
    models = module.models
    presets = dict(models.ImageClassifier.presets)
    for name in FEATURE_BACKBONES:
        presets.update(getattr(models, name).presets if hasattr(models, name) else {})
    found = [_builtin(name, entry) for name, entry in presets.items()]
    return tuple(sorted(found, key=lambda p: (p.family, p.name)))


def _builtin(name: str, entry: dict) -> Preset:
    metadata = entry.get("metadata", {})
    family = metadata.get("path", "kerashub")
    size = _size_in(name, metadata.get("description", ""))
    return Preset(
        handle=name,
        name=f"{PREFIX}{name}",
        family=family,
        source=f"kerashub:{name}@{entry.get('kaggle_handle', '')}",
        params=metadata.get("params"),
        size=size,
        fixed_size=family in FIXED_FAMILIES and size is not None,
    )


def _size_in(name: str, description: str) -> int | None:
    """The resolution a built-in preset was trained at, as its name or description says it
    (`..._384`, `r240`, `at a 256x256 resolution`); KerasHub's list gives it nowhere else."""
    found = re.search(r"(\d{3,4})x\1", description) or re.search(r"(?:_|r)(\d{3,4})(?:_|$)", name)
    return int(found.group(1)) if found else None


def remote_preset(handle: str) -> Preset:
    """A Hugging Face, Kaggle (or other) handle: nothing is known before it is fetched."""
    parts = [p for p in handle.split("://", 1)[1].split("/") if p]
    if not parts:
        raise BenchError(f"hub:{handle}: a handle names a model after its scheme")
    kaggle = handle.lower().startswith("kaggle://") and len(parts) >= 4
    short = parts[3] if kaggle else parts[-1]  # kaggle://owner/model/keras/VARIANT[/version]
    return Preset(handle, f"{PREFIX}{short}", "kerashub", f"kerashub:{handle}")


def local_preset(folder: Path) -> Preset:
    """A preset folder (saved with `save_to_preset`, or a downloaded timm or transformers
    checkpoint): its configs say what it is, a hash of its files which version it is."""
    config = _read_json(folder / "config.json")
    keras_format = "registered_name" in config
    if keras_format and not (folder / "image_converter.json").is_file():
        raise BenchError(
            f"hub:{folder}: no image_converter.json, so its preprocessing is unknown (save the "
            "preset's ImageConverter into the folder with its save_to_preset)"
        )
    backbone_size = ((config.get("config") or {}).get("image_shape") or [None])[0]
    converter = _read_json(folder / "image_converter.json") if keras_format else {}
    converter_size = ((converter.get("config") or {}).get("image_size") or [None])[0]
    fixed = config.get("class_name") in FIXED_SIZE and backbone_size is not None
    module = config.get("module", "")  # keras_hub.src.models.resnet.resnet_backbone
    family = module.split(".")[-2] if keras_format and module.count(".") >= 2 else "kerashub"
    metadata = _read_json(folder / "metadata.json", required=False)
    return Preset(
        handle=str(folder.resolve()),
        name=f"{PREFIX}{folder.resolve().name}",
        family=family,
        source=f"kerashub:{folder.resolve()}@{fingerprint(folder)}",
        params=metadata.get("parameter_count"),
        size=backbone_size if fixed else converter_size,
        fixed_size=fixed,
    )


def _read_json(path: Path, required: bool = True) -> dict:
    if not path.is_file():
        if required:
            raise BenchError(f"hub:{path.parent}: not a KerasHub preset folder (no {path.name})")
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BenchError(f"hub:{path.parent}: cannot read {path.name}: {err}") from None


def fingerprint(folder: Path) -> str:
    """A hash of every file of a folder, names and contents: a changed preset is a new run."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as file:
            for block in iter(lambda f=file: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]
