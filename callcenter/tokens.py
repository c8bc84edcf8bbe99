"""API tokens: created by `callcenter token create`, checked on every request.

A token is shown once, at creation; the database keeps its SHA-256 only (tokens are
random 256-bit strings, so a plain fast hash is the right tool, unlike passwords).

A verified token is remembered for `cache_ttl_s` (5 s): a wallboard wall and the agents'
desktops poll several times a second, and a database read per request was most of
the cost of `GET /api/v1/queues` (2-3 ms of ~4 on SQLite). Revoking through this
process forgets at once; a revocation made elsewhere (the CLI, another instance)
takes effect within the TTL. Unknown tokens are not remembered, so garbage cannot
fill the cache.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import as_utc
from callcenter.models import ApiToken

PREFIX = "cc_"
LAST_USED_EVERY = timedelta(minutes=1)
CACHE_TTL_S = 5.0
CACHE_MAX = 20_000  # far above a province's seats and screens; oldest dropped first
_IN_CHUNK = 500  # hashes per `IN (...)`: under every driver's parameter limit


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
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        cache_ttl_s: float = CACHE_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._ttl = cache_ttl_s
        self._monotonic = monotonic
        #: token hash -> (principal, when to check the database again)
        self._verified: dict[str, tuple[Principal, float]] = {}

    @property
    def cache_ttl_s(self) -> float:
        """How long a checked token is believed without asking the database again: a
        revocation from another process takes effect within this."""
        return self._ttl

    async def still_valid(self, digests: Collection[str]) -> set[str]:
        """Which of these token hashes are still usable, straight from the database
        (not the cache): one query per `_IN_CHUNK` hashes, however many connections
        hold them. Those that are not are dropped from the cache too."""
        wanted = list(dict.fromkeys(digests))
        valid: set[str] = set()
        async with self._sessions() as session:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                valid.update(
                    await session.scalars(
                        select(ApiToken.token_hash).where(
                            ApiToken.token_hash.in_(chunk), ApiToken.revoked_at.is_(None)
                        )
                    )
                )
        for digest in wanted:
            if digest not in valid:
                self._verified.pop(digest, None)
        return valid

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
        digest = hash_token(token)
        known = self._verified.get(digest)
        if known is not None and known[1] > self._monotonic():
            return known[0]
        principal = await self._verify(digest)
        self._verified.pop(digest, None)
        if principal is not None and self._ttl > 0:
            while len(self._verified) >= CACHE_MAX:
                del self._verified[next(iter(self._verified))]
            self._verified[digest] = (principal, self._monotonic() + self._ttl)
        return principal

    async def _verify(self, digest: str) -> Principal | None:
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
            )
            if row is None:
                return None
            now = self._clock()
            last = as_utc(row.last_used_at) if row.last_used_at is not None else None
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
        # after the commit (a check meanwhile could cache it again): whichever token it
        # was, this process refuses it from the next request
        self._verified.clear()
        return bool(result.rowcount)  # type: ignore[attr-defined]
