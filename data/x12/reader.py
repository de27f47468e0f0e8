"""Reading X12 files into segments with pyx12, with errors that name the file and the segment."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyx12.errors import X12Error
from pyx12.x12file import X12Reader


class X12FileError(ValueError):
    """An X12 file that cannot be read, with the file and the segment where reading stopped."""

    def __init__(self, path: str | Path, segment: str, message: str) -> None:
        super().__init__(f"{Path(path).name}: segment {segment}: {message}")
        self.file = Path(path).name
        self.segment = segment


@dataclass(frozen=True)
class X12Segment:
    """One segment: its tag and elements, with composites split on the file's component separator."""

    tag: str
    elements: tuple[str, ...]
    component_separator: str

    def element(self, position: int) -> str:
        """Element at a 1-based position, or '' when absent."""
        return self.elements[position - 1].strip() if position <= len(self.elements) else ""

    def components(self, position: int) -> list[str]:
        """The components of a composite element."""
        return self.element(position).split(self.component_separator)

    def procedure(self, position: int) -> list[str]:
        """A procedure composite (qualifier, code, modifiers...). Its qualifier has two letters, so the
        third character is the separator actually used, even where a file disagrees with its ISA16."""
        value = self.element(position)
        if len(value) > 2 and not value[2].isalnum():
            return value.split(value[2])
        return value.split(self.component_separator)


def read_segments(path: str | Path) -> Iterator[X12Segment]:
    """Segments of an X12 interchange; the envelope (ISA/GS) must be present."""
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace").lstrip()
    if not text.startswith("ISA"):
        first = text.split("*", 1)[0][:3] or "(empty file)"
        raise X12FileError(path, first, "the file has no ISA interchange envelope; it must begin with ISA")
    separator = ":"
    last = "ISA"
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for segment in X12Reader(handle):
                last = segment.get_seg_id()
                values = segment.format().rstrip(segment.seg_term or "~").split(segment.ele_term or "*")
                if values[0] == "ISA" and len(values) > 16:
                    separator = values[16].strip() or separator  # ISA16: the component separator
                yield X12Segment(values[0], tuple(values[1:]), separator)
    except X12Error as error:
        raise X12FileError(path, last, str(error)) from None
