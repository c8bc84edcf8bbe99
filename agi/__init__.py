"""FastAGI server, AGI session API and the 12345 IVR flow.

Own asyncio code rather than panoramisk.fast_agi: that implementation routes on the raw
script including its query string, misreads multi-line 520 replies, takes an unsolicited
`HANGUP` for the next command's reply and spins on a truncated environment
(shared/reference/asterisk-protocol.md §3.2).
"""
