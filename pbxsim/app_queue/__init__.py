"""app_queue: queues.conf, the queue engine, Queue() and the queue AMI actions.

* `config`: queues.conf as app_queue reads it (templates, member lines, defaults).
* `members`, `strategies`, `queue`: members with device-state status, ring metrics, and
  the queue/caller/ring-attempt model with the `CallerHost` interface.
* `engine`: the caller state machine (turns, ring rounds, timeouts, wrap-up, events);
  channel-agnostic, driven through a `CallerHost`.
* `application`: Queue() on the telephony `Pbx` (the CallerHost for real channels).
* `manager`: QueueAdd/Remove/Pause/Penalty/Status/Summary and `queue show`.

`pbxsim.erlang` drives the same engine with lightweight hosts for the Erlang check.
"""
