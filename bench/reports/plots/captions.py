"""Where a figure's provenance goes, now that its title is the human title alone: into each
saved file's metadata and into captions.md beside the files, one caption per figure that a
paper can paste (title, what is drawn, the runs it was drawn from)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CAPTIONS = "captions.md"

# The keys each format's writer takes in savefig(metadata=...): PNG tEXt chunks, the PDF's
# document information, SVG's Dublin Core <metadata>. PostScript takes only a Creator and the
# pixel formats of Pillow none, so jpg, tiff, eps ... carry no provenance: captions.md has it.
_KEYS = {
    "png": ("Title", "Description", "Source"),
    "pdf": ("Title", "Subject", "Keywords"),
    "svg": ("Title", "Description", "Source"),
    "svgz": ("Title", "Description", "Source"),
}


@dataclass(frozen=True)
class Caption:
    title: str
    says: str  # what the figure draws and how to read it (catalog.FIGURES)
    runs: str  # Comparison.describe(): data set, image size, weights, seeds, settings hash
    ranked: str  # how the models were ranked, which orders them and picks their phase
    missing: str = ""  # why the figure could not be drawn; "" when it was

    @property
    def explains(self) -> str:
        """What the figure shows, and whether it could be drawn: the caption less the runs."""
        return f"{self.says} Not drawn: {self.missing}." if self.missing else self.says

    @property
    def text(self) -> str:
        return f"{self.title}. {self.explains} Runs: {self.runs}; {self.ranked}."


def metadata(caption: Caption, fmt: str) -> dict[str, str] | None:
    """What savefig writes into a file of format `fmt`: the title, the whole caption, and
    the runs (the settings hash among them) where the format has a field for its source."""
    keys = _KEYS.get(fmt)
    if keys is None:
        return None
    return dict(zip(keys, (caption.title, caption.text, caption.runs), strict=True))


def captions_file(entries: Sequence[tuple[str, Caption]], formats: Sequence[str]) -> str:
    """captions.md: per figure, its files and its caption, in the order of FIGURES."""
    lines = ["# Captions of the figures in this folder", ""]
    for name, caption in entries:
        files = ", ".join(f"`{name}.{fmt}`" for fmt in formats)
        lines += [f"## {name}", "", f"Files: {files}", "", caption.text, ""]
    return "\n".join(lines)
