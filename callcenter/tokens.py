"""API tokens: created by `callcenter token create`, checked on every request.

A token is shown once, at creation; the database keeps its SHA-256 only (tokens are
random 256-bit strings, so a plain fast hash is the right tool, unlike passwords).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import ApiToken

PREFIX = "cc_"
LAST_USED_EVERY = timedelta(minutes=1)


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"  # bound to one seat
    INTEGRATION = "integration"  # operators' scripts: legacy numbers, read-only records


@dataclass(frozen=True)
class Principal:
    token_id: int
    name: str
    role: Role
    seat: str | None


class TokenError(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def create(self, name: str, role: Role, seat: str | None = None) -> tuple[int, str]:
        """Returns (id, the token). The token cannot be recovered later."""
        if role is Role.AGENT and not seat:
            raise TokenError("an agent token must be bound to a seat (--seat)")
        if role is not Role.AGENT and seat:
            raise TokenError(f"only agent tokens are bound to a seat, not {role.value}")
        if not name.strip():
            raise TokenError("a token needs a name (who or what uses it)")
        token = PREFIX + secrets.token_urlsafe(32)
        async with self._sessions() as session, session.begin():
            row = ApiToken(
                name=name.strip(),
                role=role.value,
                seat=seat,
                token_hash=hash_token(token),
                created_at=self._clock(),
            )
            session.add(row)
            await session.flush()
            return row.id, token

    async def verify(self, token: str) -> Principal | None:
        if not token.startswith(PREFIX):
            return None
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(ApiToken).where(
                    ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
                )
            )
            if row is None:
                return None
            now = self._clock()
            last = row.last_used_at
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=UTC)  # SQLite hands back naive UTC
            # a read-mostly check: write `last_used_at` at most once a minute per token,
            # so a wallboard wall reconnecting at once does not queue up database writes
            if last is None or now - last >= LAST_USED_EVERY:
                row.last_used_at = now
            return Principal(row.id, row.name, Role(row.role), row.seat)

    async def list(self) -> list[ApiToken]:
        async with self._sessions() as session:
            return list(await session.scalars(select(ApiToken).order_by(ApiToken.id)))

    async def revoke(self, token_id: int) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]
