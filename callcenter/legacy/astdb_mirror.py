"""Keeps Asterisk's AstDB (family `hotline-legacy`: number → Asterisk queue) equal to
what the directory routes now, on every PBX node.

Why: when our service is down or slow, the dialplan's fallback reads
`${DB(hotline-legacy/${DID})}` and still queues an old number's caller in the unit's
queue. AstDB lives on the PBX's disk, so it must be brought up to date on every AMI
(re)connect (changes made while the link was down never reached it), after every
directory change, and at every scheduled cut-over.

On (re)connect the family is cleared and rewritten: we cannot know which of our keys
survived, and Asterisk 20 has no AMI listing of a family. The short gap matters
little, as the service is up and routing over FastAGI while it happens. Afterwards
only differences are sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from ami.errors import AmiError
from callcenter.legacy.directory import Directory

log = logging.getLogger(__name__)

FAMILY = "hotline-legacy"
IN_FLIGHT = 64  # AMI actions in flight per node during a bulk write


class AmiLink(Protocol):
    """What the mirror needs of a PBX node (ami.node.PbxNode)."""

    @property
    def name(self) -> str: ...

    @property
    def connected(self) -> bool: ...

    async def send(
        self,
        action: dict[str, Any],
        *,
        timeout: float | None = ...,
        as_list: bool | None = ...,
        check: bool = ...,
    ) -> Any: ...


class AstDbMirror:
    def __init__(self, directory: Directory, links: Callable[[], Iterable[AmiLink]]) -> None:
        self._directory = directory
        self._links = links
        #: per node: what we know AstDB holds; absent = unknown (full rewrite next time)
        self._mirrored: dict[str, dict[str, str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.full_syncs = 0
        self.actions_sent = 0

    async def on_connected(self, node: AmiLink) -> None:
        """AMI (re)connect hook: rewrite the whole family on that node."""
        self._mirrored.pop(node.name, None)
        await self._sync_node(node)

    async def sync(self) -> None:
        """Directory listener: push the differences to every connected node."""
        for node in self._links():
            if node.connected:
                await self._sync_node(node)

    async def _sync_node(self, node: AmiLink) -> None:
        lock = self._locks.setdefault(node.name, asyncio.Lock())
        async with lock:
            wanted = self._directory.queue_map(self._directory.clock())
            have = self._mirrored.pop(node.name, None)
            full = have is None
            try:
                if have is None:
                    await node.send(
                        {"Action": "DBDelTree", "Family": FAMILY}, as_list=False, check=False
                    )
                    self.actions_sent += 1
                    have = {}
                puts = [(k, v) for k, v in wanted.items() if have.get(k) != v]
                dels = [k for k in have if k not in wanted]
                await self._bulk(node, [_put(k, v) for k, v in puts])
                await self._bulk(node, [_del(k) for k in dels])
            except AmiError as exc:  # state unknown now: rewrite all on the next chance
                log.warning(
                    "AstDB mirror on %s failed (%s); full rewrite next time", node.name, exc
                )
                return
            self._mirrored[node.name] = wanted
            if full:
                self.full_syncs += 1  # completed full rewrites (tests and metrics)
            if puts or dels:
                log.info(
                    "AstDB %s on %s: %d put, %d deleted", FAMILY, node.name, len(puts), len(dels)
                )

    async def _bulk(self, node: AmiLink, actions: list[dict[str, Any]]) -> None:
        for start in range(0, len(actions), IN_FLIGHT):
            batch = actions[start : start + IN_FLIGHT]
            sends: list[Awaitable[Any]] = [
                node.send(a, as_list=False, check=a["Action"] == "DBPut") for a in batch
            ]
            await asyncio.gather(*sends)
            self.actions_sent += len(batch)


def _put(number: str, queue: str) -> dict[str, Any]:
    return {"Action": "DBPut", "Family": FAMILY, "Key": number, "Val": queue}


def _del(number: str) -> dict[str, Any]:
    return {"Action": "DBDel", "Family": FAMILY, "Key": number}
