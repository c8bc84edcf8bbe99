"""The AMI link: one connection per Asterisk node (on panoramisk 1.4), typed events,
actions with timeouts, reconnect with backoff and a ping watchdog."""
