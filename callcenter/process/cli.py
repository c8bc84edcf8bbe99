"""The `callcenter` command line."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Annotated

import typer

from callcenter.commands.asterisk_conf import app as asterisk_conf_app
from callcenter.commands.audit import app as audit_app
from callcenter.commands.common import EXIT_CODES_HELP, load_settings_or_exit
from callcenter.commands.db import app as db_app
from callcenter.commands.legacy import app as legacy_app
from callcenter.commands.queues import app as queues_app
from callcenter.commands.records import app as records_app
from callcenter.commands.seats import app as seats_app
from callcenter.commands.tokens import app as token_app
from callcenter.commands.units import app as units_app
from callcenter.private_files import PRIVATE_UMASK

app = typer.Typer(
    help="12345 hotline call-center backend.\n\n"
    "Every command: errors and messages for people on stderr; with --json one JSON "
    "document on stdout (see each command's --help for its keys). Commands need a "
    "migrated database: run `callcenter db upgrade` first (only it and `serve` "
    "migrate).",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(legacy_app, name="legacy")
app.add_typer(seats_app, name="seats")
app.add_typer(queues_app, name="queues")
app.add_typer(asterisk_conf_app, name="asterisk-conf")
app.add_typer(records_app, name="records")
app.add_typer(audit_app, name="audit")
app.add_typer(units_app, name="units")


@app.command()
def serve(
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Start the bundled simulator as the PBX, with live demo traffic."
        ),
    ] = False,
    host: Annotated[str | None, typer.Option(help="HTTP bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
) -> None:
    """Run the service: migrations, PBX link, FastAGI and the HTTP API."""
    from callcenter.process.service import Service

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["http_host"] = host
    if port is not None:
        overrides["http_port"] = port
    settings = load_settings_or_exit().model_copy(update=overrides)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.umask(PRIVATE_UMASK)  # whatever the service creates holds callers' data
    try:
        asyncio.run(Service(settings, demo=demo).run())
    except KeyboardInterrupt:
        pass


def main() -> None:
    app()
