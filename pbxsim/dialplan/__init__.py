"""The dialplan language: extensions.conf, patterns, `${}` / `$[]`, dialplan functions.

The telephony part executes dialplans; this package only knows how to read them, find
the priority to run and turn AppData text into what the application receives.
"""

from pbxsim.dialplan.appargs import split_app_call, split_args
from pbxsim.dialplan.confparse import ConfigError, ConfLine, SectionHeader, read_config
from pbxsim.dialplan.expr import check_condition, evaluate
from pbxsim.dialplan.functions import AstDBLike, FunctionError, FunctionRegistry, default_functions
from pbxsim.dialplan.loader import build_dialplan, load_dialplan, parse_dialplan
from pbxsim.dialplan.model import Context, Dialplan, Extension, Priority
from pbxsim.dialplan.patterns import MatchMode, compare_extensions, extension_match
from pbxsim.dialplan.substitution import Scope, assign, substitute, substring

__all__ = [
    "AstDBLike",
    "ConfLine",
    "ConfigError",
    "Context",
    "Dialplan",
    "Extension",
    "FunctionError",
    "FunctionRegistry",
    "MatchMode",
    "Priority",
    "Scope",
    "SectionHeader",
    "assign",
    "build_dialplan",
    "check_condition",
    "compare_extensions",
    "default_functions",
    "evaluate",
    "extension_match",
    "load_dialplan",
    "parse_dialplan",
    "read_config",
    "split_app_call",
    "split_args",
    "substitute",
    "substring",
]
