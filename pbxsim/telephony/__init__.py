"""The PBX core of the simulator: the calls themselves.

* `pbx.py` -- `Pbx`: channels and their events (Newchannel, Newstate, NewCallerid,
  VarSet, Newexten, DTMF, Hangup & co.), answer/hangup propagation, dials
  (`request_channel`, `dial_begin/state/end`), bridges, music on hold, device states;
  `build_pbx()` wires a whole simulator from config files.
* `legs.py` -- per-channel runtime state (`Leg`) and the channel registry.
* `ids.py` -- Uniqueid, Local and PJSIP name counters.
* `local.py` -- Local channel pairs (`;1`/`;2`, `/n`).
* `softphone.py` -- PJSIP endpoints: seats rung by the queue (injected `RingPolicy`)
  and the trunk that callers arrive on.
* `pjsip_conf.py` -- the endpoints/contacts part of pjsip.conf.
* `executor.py` -- a channel's run through the dialplan (`Newexten`, `h`, Redirect).
* `apps.py` -- Answer, Wait, NoOp, Set, Goto, GotoIf, Hangup, SendDTMF, Playback,
  MixMonitor.
* `agi_app.py` -- `AGI()`: the `AgiHost` for pbxsim/agi_client.py and AGISTATUS.
* `originate.py` -- AMI Originate and its OriginateResponse.
* `cdr.py` -- cdr_manager's `Cdr` events.
* `bridge.py` -- basic two-party bridges.
* `manager.py` -- the channel AMI actions and `core show channels`.

The contract with the rest of pbxsim is pbxsim/README.md ("Dialplan applications",
"Telephony services the queue uses"); what this part adds to it is documented on the
`Pbx` methods (`fresh_block`, `set_app_interrupt`, `on_device_state`, `ringing`,
`remote_hangup`).
"""
