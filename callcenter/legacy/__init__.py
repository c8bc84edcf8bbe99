"""The legacy-number directory: the 280 old unit numbers folded into 12345.

Operators load it from CSV (`callcenter legacy import`) or the HTTP API; every change is
versioned; `directory.Directory` answers the per-call routing question in memory, and
`astdb_mirror.AstDbMirror` copies it into Asterisk's AstDB for the dialplan's fallback.
"""
