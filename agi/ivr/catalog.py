"""The prompt catalog: prompt id → text per language (agi/ivr/prompts.json).

It is the single list of what callers can hear. Flows are validated against it (an
unknown prompt id is a load error, not silence on a live call), and `make prompts`
renders it to the wav files Asterisk plays as `hotline/<id>`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

LANGUAGES = ("zh", "en")
SOUND_DIR = "hotline"  # under sounds/<lang>/ on the PBX
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,48}")


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the prompt."""


@dataclass(frozen=True, slots=True)
class PromptCatalog:
    version: int
    texts: dict[str, dict[str, str]]  # id → language → text

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.texts

    def sound(self, prompt_id: str) -> str:
        """The name STREAM FILE / GET DATA play (Asterisk adds language and extension)."""
        if prompt_id not in self.texts:
            raise KeyError(f"prompt {prompt_id!r} is not in the catalog")
        return f"{SOUND_DIR}/{prompt_id}"


def parse_catalog(data: object) -> PromptCatalog:
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), dict):
        raise CatalogError("prompt catalog: expected an object with 'prompts'")
    version = data.get("version")
    if not isinstance(version, int):
        raise CatalogError("prompt catalog: 'version' must be an integer")
    texts: dict[str, dict[str, str]] = {}
    for prompt_id, by_lang in data["prompts"].items():
        if not _ID.fullmatch(prompt_id):
            raise CatalogError(f"prompt {prompt_id!r}: id must be lower-case a-z, 0-9, '-'")
        if not isinstance(by_lang, dict):
            raise CatalogError(f"prompt {prompt_id!r}: expected texts per language")
        for lang in LANGUAGES:
            text = by_lang.get(lang)
            if not isinstance(text, str) or not text.strip():
                raise CatalogError(f"prompt {prompt_id!r}: no {lang} text")
        texts[prompt_id] = {lang: by_lang[lang] for lang in LANGUAGES}
    return PromptCatalog(version, texts)


def load_catalog(path: Path | None = None) -> PromptCatalog:
    """The catalog file (default: the one shipped in this package)."""
    if path is None:
        text = resources.files("agi.ivr").joinpath("prompts.json").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    try:
        return parse_catalog(json.loads(text))
    except json.JSONDecodeError as exc:
        raise CatalogError(f"prompt catalog: not JSON: {exc}") from exc
