"""Render the prompt catalog to the 8 kHz wav files Asterisk plays (`make prompts`).

espeak-ng speaks each text (voice `cmn` for Mandarin, `en` for English), sox resamples
to 8 kHz mono 16-bit — the native rate of the telephone channels, so Asterisk does not
transcode on every playback. Output: <out>/<lang>/hotline/<id>.wav. A file whose text
has not changed is not rendered again (a `.txt` beside it keeps the text it was made
from), so the committed files only change when the catalog does.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from agi.ivr.catalog import SOUND_DIR, PromptCatalog, load_catalog

VOICES = {"zh": "cmn", "en": "en-us"}
#: espeak-ng counts a Chinese character as a word: ~4 characters a second sounds natural
SPEED_WPM = {"zh": 240, "en": 160}


def render_one(text: str, lang: str, out: Path, workdir: Path) -> None:
    raw = workdir / "raw.wav"
    subprocess.run(
        ["espeak-ng", "-v", VOICES[lang], "-s", str(SPEED_WPM[lang]), "-w", str(raw), text],
        check=True,
        capture_output=True,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(out)],
        check=True,
        capture_output=True,
    )


def render_catalog(catalog: PromptCatalog, out_dir: Path, force: bool = False) -> list[Path]:
    """Render every (prompt, language) whose text changed; the files written."""
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not installed: apt-get install -y espeak-ng sox")
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        for prompt_id, by_lang in sorted(catalog.texts.items()):
            for lang, text in by_lang.items():
                wav = out_dir / lang / SOUND_DIR / f"{prompt_id}.wav"
                stamp = wav.with_suffix(".txt")
                if not force and wav.is_file() and stamp.is_file():
                    if stamp.read_text(encoding="utf-8") == text:
                        continue
                render_one(text, lang, wav, Path(tmp))
                stamp.write_text(text, encoding="utf-8")
                written.append(wav)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("asterisk-conf/sounds"))
    parser.add_argument("--force", action="store_true", help="render every prompt again")
    args = parser.parse_args(argv)
    written = render_catalog(load_catalog(), args.out, args.force)
    print(f"{len(written)} prompt files rendered into {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
