"""`callcenter token ...`: API bearer tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.commands.common import (
    EXIT_CODES_HELP,
    EXIT_REJECTED,
    EXIT_USAGE,
    JsonOption,
    console,
    emit_json,
    fail,
    help_from_doc,
    load_settings_or_exit,
    run_on_database,
)
from callcenter.db import session_factory
from callcenter.models import ApiToken
from callcenter.tokens import Role, TokenError, TokenStore

app = typer.Typer(help="API bearer tokens.", epilog=EXIT_CODES_HELP, no_args_is_help=True)
T = TypeVar("T")


def _on_store(work: Callable[[TokenStore], Awaitable[T]]) -> T:
    settings = load_settings_or_exit()

    async def on(engine: AsyncEngine) -> T:
        return await work(TokenStore(session_factory(engine), lambda: datetime.now(UTC)))

    return run_on_database(settings, on)


def _listed(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "seat": token.seat,
        "state": "revoked" if token.revoked_at else "active",
        "created_at": token.created_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


@app.command("create", epilog=EXIT_CODES_HELP)
@help_from_doc
def token_create(
    name: Annotated[str, typer.Option(help="Who or what uses it (a person, a script).")],
    role: Annotated[Role, typer.Option(help="admin, supervisor, agent or integration.")],
    seat: Annotated[str | None, typer.Option(help="The seat an agent token is bound to.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token and print it (it is shown only this once).

    A role and seat that do not go together (an agent without --seat, a seat for
    another role) are a usage error (exit 2). --json: {id, name, role, seat, token}.
    """

    async def create(store: TokenStore) -> tuple[int, str] | TokenError:
        try:
            return await store.create(name, role, seat)
        except TokenError as exc:
            return exc

    created = _on_store(create)
    if isinstance(created, TokenError):
        fail(str(created), EXIT_USAGE)
    token_id, token = created
    if as_json:
        emit_json(
            {"id": token_id, "name": name.strip(), "role": role.value, "seat": seat, "token": token}
        )
        return
    console.print(f"token {token_id} ({role.value}) created; it is shown only once:")
    typer.echo(token)


@app.command("list", epilog=EXIT_CODES_HELP)
@help_from_doc
def token_list(as_json: JsonOption = False) -> None:
    """List tokens (never their values), tab-separated: id, role, seat, state, name.

    --json: [{id, name, role, seat, state (active|revoked), created_at, revoked_at,
    last_used_at}].
    """
    tokens = _on_store(lambda store: store.list())
    if as_json:
        emit_json([_listed(t) for t in tokens])
        return
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        typer.echo(f"{t.id}\t{t.role}\t{t.seat or '-'}\t{state}\t{t.name}")


@app.command("revoke", epilog=EXIT_CODES_HELP)
@help_from_doc
def token_revoke(token_id: Annotated[int, typer.Argument()], as_json: JsonOption = False) -> None:
    """Revoke a token at once (exit 1 if there is no active token with that id).

    --json: {id, revoked: true}.
    """
    if not _on_store(lambda store: store.revoke(token_id)):
        fail(f"no active token {token_id}", EXIT_REJECTED)
    if as_json:
        emit_json({"id": token_id, "revoked": True})
        return
    console.print(f"token {token_id} revoked")
