"""AMI frame decoding, on bytes.

panoramisk 1.4 decodes every TCP chunk on its own with errors='ignore', so a UTF-8
character split across two reads (a Chinese caller name, say) silently loses bytes; and
a frame it cannot read disappears without a trace. Here frames are cut on bytes first
and decoded whole, and a frame that is not valid AMI is reported with its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

FRAME_END = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"
#: a frame larger than this without its blank line is not AMI (Asterisk's own limit on
#: input is 128 lines of 1024 bytes; Command output can be longer, so leave room)
MAX_FRAME_BYTES = 4 * 1024 * 1024


class MalformedFrame(ValueError):
    """A frame that cannot be read as AMI; carries the raw bytes for the log."""

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(f"{reason}: {raw[:300]!r}")
        self.reason = reason
        self.raw = raw


@dataclass(frozen=True, slots=True)
class Frame:
    """One AMI message: headers in wire order (names as sent; repeats kept)."""

    headers: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str | None = None) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default


def parse_frame(raw: bytes) -> Frame:
    """Parse one frame (without its terminating blank line)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedFrame(f"invalid UTF-8 at byte {exc.start}", raw) from None
    headers: list[tuple[str, str]] = []
    append = headers.append
    for line in text.split("\r\n"):
        cut = line.find(": ")
        if cut > 0:
            append((line[:cut], line[cut + 2 :]))
            continue
        if not line:
            continue
        cut = line.find(":")  # "Key:value" or "Key:" (Asterisk writes the space)
        if cut <= 0 or line[:cut] != line[:cut].strip():
            raise MalformedFrame(f"line without 'Name: value' ({line[:60]!r})", raw)
        append((line[:cut], line[cut + 1 :]))
    if not headers:
        raise MalformedFrame("empty frame", raw)
    first = headers[0][0].lower()
    if first not in ("event", "response"):
        raise MalformedFrame(f"frame starts with {headers[0][0]!r}, not Event or Response", raw)
    return Frame(tuple(headers))


class FrameReader:
    """Incremental splitter: feed bytes, get complete frames (and the banner once)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.banner: str | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """Return the raw frames completed by `data`; raises MalformedFrame on overflow."""
        self._buffer += data
        if self.banner is None:
            newline = self._buffer.find(b"\r\n")
            if newline < 0:
                return []
            if self._buffer.startswith(BANNER_PREFIX):
                self.banner = self._buffer[:newline].decode("utf-8", "replace")
                del self._buffer[: newline + 2]
            else:
                self.banner = ""
        frames: list[bytes] = []
        start = 0
        while True:
            end = self._buffer.find(FRAME_END, start)
            if end < 0:
                break
            frames.append(bytes(self._buffer[start:end]))
            start = end + len(FRAME_END)
        if start:
            del self._buffer[:start]
        if len(self._buffer) > MAX_FRAME_BYTES:
            raw = bytes(self._buffer[:300])
            self._buffer.clear()
            raise MalformedFrame(f"no frame end within {MAX_FRAME_BYTES} bytes", raw)
        return frames

    @property
    def version(self) -> str | None:
        if not self.banner:
            return None
        return self.banner.partition("/")[2].strip() or None
