"""The AstDB mirror against pbxsim's AstDB over a real AMI session: written on connect,
kept equal after changes, rewritten after a reconnect that missed changes."""

from __future__ import annotations

import dataclasses

import pytest

from ami.node import PbxNode
from callcenter.legacy.astdb_mirror import FAMILY, AstDbMirror
from callcenter.legacy.directory import Directory
from callcenter.live.live_state import LiveState
from tests.legacy.conftest import Db, city_records
from tests.live.sim import SimPbx, start_sim
from tests.live.test_faults import wait_until

pytestmark = pytest.mark.db


def astdb(sim: SimPbx) -> dict[str, str]:
    rows = sim.system.pbx.astdb.gettree(FAMILY)
    return {key.removeprefix(f"/{FAMILY}/"): value for key, value in rows}


async def test_mirror_follows_the_directory_and_reconnects(db: Db) -> None:
    await db.repo.import_records(city_records(), actor="ops", reason="import")
    directory = Directory(db.repo, db.clock)
    await directory.reload()
    sim = await start_sim(speed=20.0)
    sim.system.pbx.astdb.put(FAMILY, "043200000000", "hotline-stale")  # left from before
    live = LiveState(sim.scheduler.now)
    node = PbxNode(sim.node_config(), live)
    mirror = AstDbMirror(directory, lambda: [node])
    live.connect_hooks.append(mirror.on_connected)
    directory.add_listener(mirror.sync)
    node.start()
    try:
        await wait_until(lambda: mirror.full_syncs == 1 and len(astdb(sim)) == 280, 20)
        assert astdb(sim) == directory.queue_map(db.clock())
        assert astdb(sim)["043266453987"] == "hotline-social-security"

        view = await db.repo.get("043266453987")
        assert view is not None
        await db.repo.put(dataclasses.replace(view.record, queue="health"), actor="t")
        await db.repo.delete("043262264412", actor="t")
        sent = mirror.actions_sent
        await directory.reload()  # listeners run: only the two differences are sent
        assert mirror.actions_sent == sent + 2
        mirrored = astdb(sim)
        assert mirrored["043266453987"] == "hotline-health" and "043262264412" not in mirrored

        await sim.kill_ami()
        await wait_until(lambda: not node.connected, 10)
        await db.repo.put(dataclasses.replace(view.record, queue="urban"), actor="t")
        await directory.reload()  # no link: nothing sent, the next connect rewrites
        await sim.start_ami()
        await wait_until(lambda: mirror.full_syncs == 2, 20)
        assert astdb(sim) == directory.queue_map(db.clock())
        assert astdb(sim)["043266453987"] == "hotline-urban"
    finally:
        await node.stop()
        await sim.stop()
