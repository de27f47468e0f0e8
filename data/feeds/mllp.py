"""MLLP framing and HL7 acknowledgements: the bytes an interface engine sends and expects back.

A frame is <VT> message <FS><CR>. Every message gets one ACK: MSA-1 is AA (accepted), AE (an error
in its content) or AR (rejected: no usable header), MSA-2 echoes its control id, MSA-3 says why.
"""

from __future__ import annotations

import re
from datetime import datetime

from data.feeds.siu import normalise

START, END = b"\x0b", b"\x1c\x0d"
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))
_MESSAGE_START = re.compile(r"\r(?=MSH\|)")


def frame(message: bytes) -> bytes:
    """One MLLP frame around a message."""
    return START + message + END


def next_frame(buffer: bytearray, max_bytes: int) -> tuple[bytes | None, int]:
    """Take the first complete frame out of `buffer`: (its message, bytes dropped before it).

    Bytes before a start block are dropped (counted). Returns (None, dropped) when no complete
    frame is there yet. Raises ValueError when an unfinished frame is already over `max_bytes`.
    """
    start = buffer.find(START)
    if start < 0:
        dropped = len(buffer)
        buffer.clear()
        return None, dropped
    dropped = start
    del buffer[:start]
    end = buffer.find(END)
    if end < 0:
        if len(buffer) > max_bytes:
            raise ValueError("frame larger than the limit")
        return None, dropped
    message = bytes(buffer[1:end])
    del buffer[: end + len(END)]
    return message, dropped


def escape(text: str) -> str:
    """Text made safe for an HL7 field (the standard escape sequences)."""
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def ack(message: bytes | str, code: str, text: str = "", now: datetime | None = None) -> bytes:
    """The ACK of `message` (which may lack a readable MSH): code AA, AE or AR, and why."""
    header = normalise(message).split("\r", 1)[0] if message else ""
    fields = header.split("|") if header.startswith("MSH|") and len(header) > 8 else []

    def field(number: int) -> str:  # MSH-n is fields[n - 1]: MSH-1 is the separator itself
        return fields[number - 1] if len(fields) >= number else ""

    encoding = field(2) if fields and len(field(2)) == 4 and "|" not in field(2) else "^~\\&"
    trigger = field(9).split(encoding[0])[1] if encoding[0] in field(9) else ""
    stamp = (now or datetime.now()).strftime("%Y%m%d%H%M%S")
    control = field(10)
    msh = [
        "MSH",
        encoding,
        "CAREOPS",
        field(6) or "CAREOPS",
        field(3),
        field(4),
        stamp,
        "",
        f"ACK{encoding[0]}{trigger}" if trigger else "ACK",
        f"ACK{stamp}{control}"[:20] if control else f"ACK{stamp}",
        field(11) or "P",
        field(12) or "2.5",
    ]
    msa = ["MSA", code, control, escape(text)[:80]]
    return ("|".join(msh) + "\r" + "|".join(msa) + "\r").encode()


def split_messages(content: bytes) -> list[bytes]:
    """The messages in a file: MLLP frames, or messages one after another, each from its MSH."""
    text = content.replace(START, b"").replace(b"\x1c", b"\r").decode("utf-8", errors="replace")
    text = normalise(text)
    parts = [p for p in _MESSAGE_START.split(text) if p.strip()]
    return [p.encode() for p in parts]
