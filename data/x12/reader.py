"""Reading X12 files into segments with pyx12, with errors that name the file and the segment."""

from __future__ import annotations

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


def read_segments(path: str | Path) -> list[X12Segment]:
    """Segments of an X12 interchange whose envelope is whole and whose control counts agree.

    A file that is empty, binary, without an ISA envelope, without transactions, cut short (a
    missing SE, GE or IEA trailer) or with a control number or count that disagrees is refused as
    a whole with an X12FileError naming the segment: reading half of it would label claims wrongly.
    """
    path = Path(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise X12FileError(path, "(none)", "the file is empty")
    if b"\x00" in raw or sum(byte < 9 or 13 < byte < 32 for byte in raw[:4096]) > 8:
        raise X12FileError(path, "(none)", "the file is binary, not X12 text")
    text = raw.decode("utf-8", errors="replace").lstrip()
    if not text.startswith("ISA"):
        first = "".join(c for c in text.split("*", 1)[0][:3] if c.isalnum()) or "(first)"
        raise X12FileError(path, first, "the file has no ISA interchange envelope; it must begin with ISA")
    segments: list[X12Segment] = []
    separator = ":"
    last = "ISA"
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for segment in X12Reader(handle):
                last = segment.get_seg_id()
                values = segment.format().rstrip(segment.seg_term or "~").split(segment.ele_term or "*")
                if values[0] == "ISA" and len(values) > 16:
                    separator = values[16].strip() or separator  # ISA16: the component separator
                segments.append(X12Segment(values[0], tuple(values[1:]), separator))
    except X12Error:
        raise X12FileError(path, last, "pyx12 cannot read the segment") from None
    check_envelope(path, segments)
    return segments


def check_envelope(path: str | Path, segments: list[X12Segment]) -> None:
    """Raise X12FileError unless every ISA/GS/ST has its IEA/GE/SE trailer with matching controls."""
    interchange = group = transaction = None  # the control number of each open envelope
    groups = transactions = count = total = 0
    for segment in segments:
        tag = segment.tag
        if transaction is not None:
            count += 1
        if tag == "ISA":
            if interchange is not None:
                raise X12FileError(path, "ISA", "a new interchange begins before the IEA trailer")
            interchange, groups = segment.element(13), 0
        elif tag == "GS":
            if interchange is None or group is not None:
                raise X12FileError(
                    path, "GS", "a functional group begins outside an interchange or inside a group"
                )
            group, transactions = segment.element(6), 0
            groups += 1
        elif tag == "ST":
            if group is None or transaction is not None:
                raise X12FileError(
                    path, "ST", "a transaction begins outside a group or before the last one's SE"
                )
            transaction, count = segment.element(2), 1
            transactions += 1
            total += 1
        elif tag == "SE":
            if transaction is None:
                raise X12FileError(path, "SE", "an SE trailer closes no transaction")
            if segment.element(2) != transaction:
                raise X12FileError(path, "SE", "SE02 does not match its ST02 control number")
            if segment.element(1) != str(count):
                raise X12FileError(path, "SE", "SE01 does not match the transaction's segment count")
            transaction = None
        elif tag == "GE":
            if group is None or transaction is not None:
                raise X12FileError(
                    path, "GE", "a GE trailer comes before its transaction's SE, or closes no group"
                )
            if segment.element(2) != group or segment.element(1) != str(transactions):
                raise X12FileError(path, "GE", "GE01/GE02 do not match the group's transactions and GS06")
            group = None
        elif tag == "IEA":
            if interchange is None or group is not None:
                raise X12FileError(
                    path, "IEA", "an IEA trailer comes before its group's GE, or closes nothing"
                )
            if segment.element(2) != interchange or segment.element(1) != str(groups):
                raise X12FileError(path, "IEA", "IEA01/IEA02 do not match the interchange's groups and ISA13")
            interchange = None
        elif transaction is None:
            raise X12FileError(path, tag, "a segment stands outside any ST/SE transaction")
    missing = (
        "SE" if transaction is not None else "GE" if group is not None else "IEA" if interchange else None
    )
    if missing is not None:
        raise X12FileError(path, missing, f"the file ends without its {missing} trailer: it is cut short")
    if total == 0:
        raise X12FileError(path, "ST", "the interchange holds no transactions")
