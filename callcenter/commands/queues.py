"""`callcenter queues list|add|update|remove`: the queue catalogue.

Every change is validated against the whole catalogue it would produce and written in
one transaction, or not at all (exit 1, the reasons on stderr). A removal is refused
while seats' skills, directory numbers or the IVR flow still use the queue, naming them.
Running instances pick a change up within 30 s; Asterisk only from the rendered
configuration, which is why every change ends by saying so (`NEXT_STEP`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agi.ivr.catalog import load_catalog
from agi.ivr.model import FlowError, flow_users, load_flow_file
from agi.ivr.store import FlowStore
from callcenter.clock import utcnow
from callcenter.commands.common import (
    EXIT_CODES_HELP,
    EXIT_REJECTED,
    EXIT_USAGE,
    ActorOption,
    JsonOption,
    actor_or_user,
    console,
    emit_json,
    fail,
    load_settings_or_exit,
    run_on_database,
)
from callcenter.config import Settings
from callcenter.db import session_factory
from callcenter.legacy.catalog_store import CatalogStore
from callcenter.legacy.queues import (
    MAX_WRAPUP_S,
    STRATEGIES,
    CatalogError,
    CatalogQueue,
    Display,
    QueueCatalog,
    UnknownQueue,
    asterisk_queue,
)
from queues.catalog import catalog as queue_specs
from queues.catalog import removal_checks

app = typer.Typer(
    help=f"The queue catalogue (names, wrap-up, strategy, overflow). {EXIT_CODES_HELP}",
    no_args_is_help=True,
)

NEXT_STEP = (
    "next: `callcenter asterisk-conf render --out DIR`, install the files on every "
    "Asterisk node, then `asterisk -rx 'queue reload all'` and "
    "`asterisk -rx 'dialplan reload'`; running services pick the change up within 30 s"
)

Zh = Annotated[str | None, typer.Option("--zh", help="Display name in Chinese (one line).")]
En = Annotated[str | None, typer.Option("--en", help="Display name in English (one line).")]
Strategy = Annotated[str | None, typer.Option(help=f"app_queue strategy: {', '.join(STRATEGIES)}.")]
Wrapup = Annotated[
    int | None, typer.Option("--wrapup", help=f"Wrap-up seconds, 0..{MAX_WRAPUP_S}.")
]
Overflow = Annotated[
    float | None,
    typer.Option(
        "--overflow-after", help="Seconds a caller waits before general seats also get it."
    ),
]
Position = Annotated[int | None, typer.Option(help="Order on screens (lower first).")]


def _rows(catalog: QueueCatalog) -> list[dict[str, Any]]:
    specs = queue_specs(catalog)
    return [
        q.as_dict()
        | {
            "ring_timeout_s": specs[q.name].ring_timeout_s,
            "service_level_s": specs[q.name].service_level_s,
        }
        for q in catalog.queues
    ]


def _print(catalog: QueueCatalog) -> None:
    for q in catalog.queues:
        overflow = "-" if q.overflow_after_s is None else f"{q.overflow_after_s:g}"
        typer.echo(
            f"{q.position}\t{q.name}\t{q.asterisk}\t{q.display.zh}\t{q.display.en}\t"
            f"{q.strategy}\twrapup={q.wrapup_s}\toverflow_after={overflow}",
            err=True,
        )


def _change(
    settings: Settings,
    as_json: bool,
    what: str,
    write: Callable[[CatalogStore, async_sessionmaker[AsyncSession]], Awaitable[QueueCatalog]],
) -> None:
    """Run `write(store, session factory)` on the migrated database; report the result
    (or the refusal, exit 1) the one way every subcommand does."""

    async def work(engine: AsyncEngine) -> QueueCatalog | CatalogError:
        sessions = session_factory(engine)
        try:
            result: QueueCatalog = await write(CatalogStore(sessions, utcnow), sessions)
        except CatalogError as exc:  # UnknownQueue is not one: see below
            return exc
        except UnknownQueue as exc:
            return CatalogError([str(exc)])
        return result

    outcome = run_on_database(settings, work)
    if isinstance(outcome, CatalogError):
        if as_json:
            emit_json({"changed": False, "errors": outcome.problems})
        for problem in outcome.problems[:-1]:
            console.print(f"[red]error:[/red] {problem}")
        fail(f"{outcome.problems[-1]}; nothing was changed", EXIT_REJECTED)
    if as_json:
        emit_json({"changed": True, "queues": _rows(outcome)})
    else:
        _print(outcome)
    console.print(f"{what}. {NEXT_STEP}")


@app.command("list")
def list_queues(as_json: JsonOption = False) -> None:
    """The catalogue in screen order, tab-separated (--json: one document)."""
    settings = load_settings_or_exit()

    async def work(engine: AsyncEngine) -> QueueCatalog:
        return await CatalogStore(session_factory(engine), utcnow).load()

    try:
        catalog = run_on_database(settings, work)
    except CatalogError as exc:
        fail(f"the queue_catalog table holds an invalid catalogue: {exc}", EXIT_USAGE)
    if as_json:
        emit_json({"queues": _rows(catalog)})
        return
    for q in catalog.queues:
        overflow = "-" if q.overflow_after_s is None else f"{q.overflow_after_s:g}"
        typer.echo(
            f"{q.position}\t{q.name}\t{q.asterisk}\t{q.display.zh}\t{q.display.en}\t"
            f"{q.strategy}\twrapup={q.wrapup_s}\toverflow_after={overflow}"
        )


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Directory name, e.g. tourism (a-z, 0-9, '-').")],
    zh: Zh = None,
    en: En = None,
    strategy: Strategy = None,
    wrapup: Wrapup = None,
    overflow_after: Overflow = None,
    position: Position = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a queue (after the last one on screens unless --position)."""
    settings = load_settings_or_exit()
    if zh is None or en is None:
        fail("a new queue needs both display names: --zh and --en", EXIT_USAGE)

    async def write(
        store: CatalogStore, _sessions: async_sessionmaker[AsyncSession]
    ) -> QueueCatalog:
        current = await store.load()
        last = max((q.position for q in current.queues), default=0)
        queue = CatalogQueue(
            name=name,
            display=Display(zh, en),
            strategy=strategy or "leastrecent",
            wrapup_s=10 if wrapup is None else wrapup,
            overflow_after_s=overflow_after,
            position=last + 10 if position is None else position,
        )
        return await store.add(queue, actor_or_user(actor))

    _change(settings, as_json, f"queue {name} ({asterisk_queue(name)}) added", write)


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="Directory name of the queue.")],
    zh: Zh = None,
    en: En = None,
    strategy: Strategy = None,
    wrapup: Wrapup = None,
    overflow_after: Overflow = None,
    no_overflow: Annotated[
        bool, typer.Option("--no-overflow", help="Never offer its callers to general seats.")
    ] = False,
    position: Position = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change what is given of a queue; the rest stays."""
    settings = load_settings_or_exit()
    if no_overflow and overflow_after is not None:
        fail("--overflow-after and --no-overflow contradict each other", EXIT_USAGE)
    given: dict[str, Any] = {
        "display_zh": zh,
        "display_en": en,
        "strategy": strategy,
        "wrapup_s": wrapup,
        "overflow_after_s": overflow_after,
        "position": position,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if no_overflow:
        changes["overflow_after_s"] = None
    if not changes:
        fail("nothing to change: give at least one option (see --help)", EXIT_USAGE)

    async def write(
        store: CatalogStore, _sessions: async_sessionmaker[AsyncSession]
    ) -> QueueCatalog:
        return await store.update(name, changes, actor_or_user(actor))

    _change(settings, as_json, f"queue {name} updated", write)


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Directory name of the queue.")],
    as_json: JsonOption = False,
) -> None:
    """Remove a queue no seat, directory number or IVR flow uses any more."""
    settings = load_settings_or_exit()

    async def write(
        store: CatalogStore, sessions: async_sessionmaker[AsyncSession]
    ) -> QueueCatalog:
        current = await store.load()
        prompts = load_catalog()
        try:
            flows = FlowStore(
                prompts,
                sessions,
                utcnow,
                load_flow_file(prompts, settings.ivr_flow_file, queues=current),
                queues=lambda: current,
            )
        except FlowError as exc:  # the flow file itself no longer loads: say so
            raise CatalogError([f"cannot check the IVR flow: {exc}"]) from exc
        flow = await flows.reload()
        return await store.remove(name, removal_checks(flow_users(lambda: flow)))

    _change(settings, as_json, f"queue {name} removed", write)
