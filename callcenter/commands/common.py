"""What every command shares: the settings, read once with a clear exit on bad
configuration, and the console that prints to stderr."""

from __future__ import annotations

import typer
from rich.console import Console

from callcenter.config import Settings, load_settings

console = Console(stderr=True)


def load_settings_or_exit() -> Settings:
    """The settings, or exit 2 naming the configuration error."""
    try:
        return load_settings()
    except Exception as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
