"""How long each sound file plays: read from the wav files a real Asterisk would play.

Asterisk finds `hotline/welcome` as `<sounds dir>/<language>/hotline/welcome.wav`; the
simulator plays nothing, but Playback, STREAM FILE and app_queue's announcements must
take the time the real file takes, or every time measured on the simulator (answer to
queue, a caller's wait) is off by it.
"""

from __future__ import annotations

import wave
from pathlib import Path


def sound_lengths(sounds_dir: Path, language: str) -> dict[str, float]:
    """Sound name (path under the language directory, without `.wav`) -> seconds, for
    every readable PCM wav file of `language`; an unreadable file is skipped (Asterisk
    would not play it either)."""
    root = sounds_dir / language
    lengths: dict[str, float] = {}
    if not root.is_dir():
        return lengths
    for path in sorted(root.rglob("*.wav")):
        try:
            with wave.open(str(path)) as w:
                seconds = w.getnframes() / w.getframerate()
        except (wave.Error, EOFError, OSError, ZeroDivisionError):
            continue
        lengths[path.relative_to(root).with_suffix("").as_posix()] = seconds
    return lengths
