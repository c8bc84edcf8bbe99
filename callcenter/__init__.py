"""The 12345 hotline call-center service: configuration, persistence, domain, wiring."""

__version__ = "0.1.0"
