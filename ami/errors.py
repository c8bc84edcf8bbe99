"""Errors of the AMI link, each saying which node and what happened."""

from __future__ import annotations


class AmiError(Exception):
    """Base: something about an AMI node or action went wrong."""


class NotConnected(AmiError):
    """The node is not logged in right now; the action was NOT sent (never queued for
    later: a delayed Originate is a surprise phone call)."""


class ActionTimeout(AmiError):
    """No complete reply within the timeout; the action may or may not have run."""


class ConnectionLostDuringAction(AmiError):
    """The connection dropped before the reply; the action may or may not have run."""


class ActionFailed(AmiError):
    """Asterisk answered `Response: Error` (message in `.message`)."""

    def __init__(self, node: str, action: str, message: str) -> None:
        super().__init__(f"{node}: {action} failed: {message}")
        self.node = node
        self.action = action
        self.message = message


class LoginFailed(AmiError):
    """Asterisk refused the credentials (or the user lacks permissions)."""
