"""What can end an AGI session early, as exceptions the flow runner tells apart."""

from __future__ import annotations

from agi.protocol.replies import AgiReply


class AgiError(Exception):
    """Base of the session's errors."""


class AgiHangup(AgiError):
    """The caller is gone (`HANGUP` line, `511`, or `-1` from a media command on a dead
    channel). Not a fault: the flow stops and the socket is closed."""


class AgiProtocolError(AgiError):
    """The peer stopped speaking AGI: garbage, EOF, or no reply within the timeout."""


class AgiCommandError(AgiError):
    """Asterisk refused a command we sent (510 unknown, 520 usage, -2 no such app):
    a bug on our side or an Asterisk without the module, reported with the reply."""

    def __init__(self, command: str, reply: AgiReply) -> None:
        super().__init__(f"{command}: {reply.code} {reply.result or reply.text}".strip())
        self.command = command
        self.reply = reply
