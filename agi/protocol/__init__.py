"""The FastAGI wire: environment block, command quoting, replies (res/res_agi.c)."""

from agi.protocol.env import AgiEnv, EnvError, parse_env
from agi.protocol.quoting import QuotingError, build_command, quote
from agi.protocol.replies import AgiReply, ReplyError, parse_reply

__all__ = [
    "AgiEnv",
    "AgiReply",
    "EnvError",
    "QuotingError",
    "ReplyError",
    "build_command",
    "parse_env",
    "parse_reply",
    "quote",
]
