"""pbxsim: an independent, wire-faithful stand-in for Asterisk 22 (AMI, FastAGI, app_queue).

It imports nothing from the product packages (callcenter, ami, agi, queues, api), so that
a misreading of the protocol in the product cannot be mirrored here and pass unnoticed.
Its reference is real Asterisk 22.10.1 output (shared/asterisk-transcripts).
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
