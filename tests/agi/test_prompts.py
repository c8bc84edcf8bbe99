"""The rendered prompts (`make prompts`, committed) match the catalog: every prompt in
both languages, rendered from the current text, 8 kHz mono for Asterisk."""

from __future__ import annotations

import wave

import pytest

from agi.ivr.catalog import LANGUAGES, SOUND_DIR, load_catalog
from agi.ivr.model import load_flow_file
from callcenter.legacy.queues import QueueCatalog
from tests.agi.pbx import CONF

CATALOG = load_catalog()
SOUNDS = CONF / "sounds"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_prompt_is_rendered_from_its_current_text(lang: str) -> None:
    for prompt_id, texts in CATALOG.texts.items():
        wav = SOUNDS / lang / SOUND_DIR / f"{prompt_id}.wav"
        assert wav.is_file(), f"{wav} missing: run `make prompts`"
        stamp = wav.with_suffix(".txt").read_text(encoding="utf-8")
        assert stamp == texts[lang], f"{wav} is stale: run `make prompts`"
        with wave.open(str(wav)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 8000 * 0.5  # at least half a second of speech


def test_no_rendered_file_without_a_catalog_entry() -> None:
    for lang in LANGUAGES:
        names = {p.stem for p in (SOUNDS / lang / SOUND_DIR).glob("*.wav")}
        assert names == set(CATALOG.texts)


def test_flow_plays_only_catalog_prompts_by_their_sound_names() -> None:
    flow = load_flow_file(CATALOG, queues=QueueCatalog.default())
    for prompt in flow.prompts():
        assert CATALOG.sound(prompt) == f"hotline/{prompt}"
    with pytest.raises(KeyError):
        CATALOG.sound("not-in-catalog")
