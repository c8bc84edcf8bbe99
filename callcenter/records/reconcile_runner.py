"""Runs the reconciler in the service: once at start, after every AMI (re)connect of
the node (a connect hook of the live state: the service may have missed calls while
the link or the service itself was down), and every `interval_s`; one run at a time.

A hook only wakes the loop: a run reads a window of the ledger and must not hold up
the live state's other connect hooks.
"""

from __future__ import annotations

import asyncio
import logging

from ami.node import PbxNode
from callcenter.records.reconcile import Reconciler

log = logging.getLogger(__name__)


class ReconcileRunner:
    def __init__(self, reconciler: Reconciler, interval_s: float) -> None:
        self.reconciler = reconciler
        self.interval_s = interval_s
        self._wake = asyncio.Event()

    async def on_connected(self, node: PbxNode) -> None:
        """Live-state connect hook: reconcile the node that came back."""
        if node.name == self.reconciler.node:
            self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            report = await self.reconciler.run_since_last()
            if report.rebuilt or report.corrections or report.unexplained:
                log.info(
                    "reconciliation %s: %d rebuilt, %d corrected, %d unexplained",
                    report.node,
                    len(report.rebuilt),
                    report.corrected,
                    len(report.unexplained),
                )
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass
