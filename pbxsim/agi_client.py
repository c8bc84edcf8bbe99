"""The Asterisk side of FastAGI: what res/res_agi.c does for `AGI(agi://host[:port]/script)`.

One `FastAgiSession` drives one channel's session: it connects (2 s per attempt, as
`MAX_AGI_CONNECT`), sends the environment in `launch_netscript` + `setup_env` order, then
reads one command per line and answers it the way res_agi.c's handlers do, byte for byte:
`510` for unknown commands, the multi-line `520-` usage block (the XML description text,
rendered as Asterisk's xmldoc does), `511` for commands that may not run once the
channel is gone, and the unsolicited `HANGUP` line when the caller hangs up (and again
when the session ends), unless `AGISIGHUP=no`.

The session talks to its channel only through `AgiHost`, which the telephony part
implements: variables (with `VarSet`), answer/hangup, DTMF, sound lengths, applications.
Waiting (prompts, digit timeouts) is done on the injected `Scheduler`, so a sped-up
simulation plays prompts faster too. Only the TCP connect timeout is wall-clock time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from pbxsim.channel import UP, Channel
from pbxsim.clock import Handle, Scheduler

AGI_PORT = 4573
MAX_AGI_CONNECT = 2.0  # seconds, per connection attempt
SAMPLE_RATE = 8000  # endpos is in samples of the 8 kHz stream

SUCCESS, FAILURE, NOTFOUND, HANGUP = "SUCCESS", "FAILURE", "NOTFOUND", "HANGUP"

_RESULT_SUCCESS, _RESULT_SHOWUSAGE, _RESULT_FAILURE = 0, 1, 2
#: a handler's result -> AGIExecEnd's ResultCode and Result (res_agi.c)
_EXEC_END = {_RESULT_SHOWUSAGE: (520, "Usage"), _RESULT_FAILURE: (-1, "Failure")}
_COMMAND_IDS = 2**31  # ast_random(): a CommandId is a non-negative C int


class AgiDatabase(Protocol):
    """The AstDB operations `DATABASE GET/PUT/DEL/DELTREE` need (pbxsim.astdb.AstDB)."""

    def get(self, family: str, key: str) -> str | None: ...

    def put(self, family: str, key: str, value: str) -> bool: ...

    def delete(self, family: str, key: str) -> bool: ...

    def deltree(self, family: str | None = None, key: str | None = None) -> int: ...


class AgiHost(Protocol):
    """What a FastAGI session needs from the PBX for the channel it controls."""

    @property
    def channel(self) -> Channel: ...

    @property
    def scheduler(self) -> Scheduler: ...

    @property
    def db(self) -> AgiDatabase | None: ...

    def get_variable(self, name: str) -> str | None:
        """`GET VARIABLE`: a variable or, if `name` ends with `)`, a function; None if unset."""
        ...

    def set_variable(self, name: str, value: str) -> None:
        """`pbx_builtin_setvar_helper`: sets (functions too) and emits `VarSet`."""
        ...

    def substitute(self, text: str, channel_name: str | None = None) -> str | None:
        """`${}`/`$[]` substitution on this or the named channel; None if no such channel."""
        ...

    def answer(self) -> int:
        """Answer if not up; 0 or -1."""
        ...

    def hangup(self, channel_name: str | None = None) -> bool:
        """Soft-hangup this channel (None) or the named one; False if there is none."""
        ...

    def is_hung_up(self) -> bool: ...

    def channel_state(self, channel_name: str) -> int | None:
        """State of another channel, for `CHANNEL STATUS <name>`; None if unknown."""
        ...

    def on_hangup(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Subscribe to this channel's hangup; returns the unsubscribe function."""
        ...

    def on_dtmf(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Subscribe to DTMF digits this channel receives; returns the unsubscribe."""
        ...

    def sound_length(self, name: str) -> float | None:
        """Seconds the sound file plays for in the channel's language; None if missing."""
        ...

    def exec_app(self, app: str, data: str, done: Callable[[int], None]) -> bool:
        """Run a dialplan application; False if there is no such application."""
        ...

    def explicit_goto(self, context: str | None, exten: str | None, priority: int | None) -> None:
        """Where the dialplan continues after AGI (`SET CONTEXT/EXTENSION/PRIORITY`)."""
        ...

    def find_label(self, label: str) -> int | None:
        """The priority of `label` in the channel's current context/extension."""
        ...

    def music_on_hold(self, on: bool, moh_class: str | None) -> None: ...

    def agi_event(self, name: str, fields: list[tuple[str, str]]) -> None:
        """Publish `AGIExecStart`/`AGIExecEnd` (class `agi`): the channel block, then
        `fields` in their order."""
        ...

    def locate(self, context: str, exten: str, priority: str) -> int | None:
        """A priority number or label at `context,exten` that exists; None if not."""
        ...

    def run_subroutine(
        self,
        context: str,
        exten: str,
        priority: int,
        args: str | None,
        done: Callable[[bool], None],
    ) -> int:
        """`Gosub(context,exten,priority(args))` run to its Return() (app_stack.c).

        Returns Gosub's own result (0 started; non-zero: not started, `done` is never
        called); `done(returned)` tells whether the routine returned normally.
        """
        ...


# --------------------------------------------------------------------------- usage texts

# The <description> of each AGI command from res/res_agi.c's XML documentation. On a
# syntax error res_agi sends `ast_xmldoc_build_description()` of it, rendered below.
_DESCRIPTIONS: dict[str, str] = {
    "answer": """
        <para>Answers channel if not already in answer state. Returns <literal>-1</literal> on
        channel failure, or <literal>0</literal> if successful.</para>""",
    "channel status": """
        <para>Returns the status of the specified <replaceable>channelname</replaceable>.
        If no channel name is given then returns the status of the current channel.</para>
        <para>Return values:</para>
        <enumlist>
            <enum name="0"><para>Channel is down and available.</para></enum>
            <enum name="1"><para>Channel is down, but reserved.</para></enum>
            <enum name="2"><para>Channel is off hook.</para></enum>
            <enum name="3"><para>Digits (or equivalent) have been dialed.</para></enum>
            <enum name="4"><para>Line is ringing.</para></enum>
            <enum name="5"><para>Remote end is ringing.</para></enum>
            <enum name="6"><para>Line is up.</para></enum>
            <enum name="7"><para>Line is busy.</para></enum>
        </enumlist>""",
    "control stream file": """
        <para>Send the given file, allowing playback to be controlled by the given
        digits, if any. Use double quotes for the digits if you wish none to be
        permitted. If offsetms is provided then the audio will seek to offsetms
        before play starts. Returns <literal>0</literal> if playback completes without a digit
        being pressed, or the ASCII numerical value of the digit if one was pressed,
        or <literal>-1</literal> on error or if the channel was disconnected. Returns the
        position where playback was terminated as endpos.</para>
        <para>It sets the following channel variables upon completion:</para>
        <variablelist>
            <variable name="CPLAYBACKSTATUS">
                <para>Contains the status of the attempt as a text string</para>
                <value name="SUCCESS" />
                <value name="USERSTOPPED" />
                <value name="REMOTESTOPPED" />
                <value name="ERROR" />
            </variable>
            <variable name="CPLAYBACKOFFSET">
                <para>Contains the offset in ms into the file where playback
                was at when it stopped. <literal>-1</literal> is end of file.</para>
            </variable>
            <variable name="CPLAYBACKSTOPKEY">
                <para>If the playback is stopped by the user this variable contains
                the key that was pressed.</para>
            </variable>
        </variablelist>""",
    "database del": """<para>Deletes an entry in the Asterisk database for a given
        <replaceable>family</replaceable> and <replaceable>key</replaceable>.</para>
        <para>Returns <literal>1</literal> if successful, <literal>0</literal>
        otherwise.</para>""",
    "database deltree": """<para>Deletes a <replaceable>family</replaceable> or specific
        <replaceable>keytree</replaceable>
        within a <replaceable>family</replaceable> in the Asterisk database.</para>
        <para>Returns <literal>1</literal> if successful, <literal>0</literal> otherwise.</para>""",
    "database get": """<para>Retrieves an entry in the Asterisk database for a given
        <replaceable>family</replaceable>
        and <replaceable>key</replaceable>.</para>
        <para>Returns <literal>0</literal> if <replaceable>key</replaceable> is not set.
        Returns <literal>1</literal> if <replaceable>key</replaceable> is set and returns the
        variable
        in parenthesis.</para>
        <para>Example return code: 200 result=1 (testvariable)</para>""",
    "database put": """<para>Adds or updates an entry in the Asterisk database for a given
        <replaceable>family</replaceable>, <replaceable>key</replaceable>, and
        <replaceable>value</replaceable>.</para>
        <para>Returns <literal>1</literal> if successful, <literal>0</literal> otherwise.</para>""",
    "exec": """<para>Executes <replaceable>application</replaceable> with given
        <replaceable>options</replaceable>.</para>
        <para>Returns whatever the <replaceable>application</replaceable> returns, or
        <literal>-2</literal> on failure to find <replaceable>application</replaceable>.</para>
        <note>
            <para>exec does not evaluate dialplan functions and variables unless it is explicitly
            enabled by setting the <variable>AGIEXECFULL</variable> variable to
            <literal>yes</literal>.</para>
        </note>""",
    "gosub": """<para>Cause the channel to execute the specified dialplan subroutine,
        returning to the dialplan with execution of a Return().</para>""",
    "get data": """
        <para>Stream the given <replaceable>file</replaceable>, and receive DTMF data.</para>
        <para>Returns the digits received from the channel at the other end.</para>""",
    "get full variable": """
        <para>Evaluates the given <replaceable>expression</replaceable> against the
        channel specified by <replaceable>channelname</replaceable>, or the current
        channel if <replaceable>channelname</replaceable> is not provided.</para>
        <para>Unlike GET VARIABLE, the <replaceable>expression</replaceable> is
        processed in a manner similar to dialplan evaluation, allowing complex
        and built-in variables to be accessed, e.g. <literal>The time is
        ${EPOCH}</literal></para>
        <para>Returns <literal>0</literal> if no channel matching
        <replaceable>channelname</replaceable> exists, <literal>1</literal>
        otherwise.</para>
        <para>Example return code: 200 result=1 (The time is 1578493800)</para>""",
    "get option": """<para>Behaves similar to STREAM FILE but used with a timeout option.</para>""",
    "get variable": """
        <para>Returns <literal>0</literal> if <replaceable>variablename</replaceable> is not set.
        Returns <literal>1</literal> if <replaceable>variablename</replaceable> is set and returns
        the variable in parentheses.</para>
        <para>Example return code: 200 result=1 (testvariable)</para>""",
    "hangup": """<para>Hangs up the specified channel. If no channel name is given, hangs
        up the current channel</para>""",
    "noop": """<para>Does nothing.</para>""",
    "receive char": """<para>Receives a character of text on a channel. Most channels do not support
        the reception of text. Returns the decimal value of the character
        if one is received, or <literal>0</literal> if the channel does not support
        text reception. Returns <literal>-1</literal> only on error/hangup.</para>""",
    "receive text": """<para>Receives a string of text on a channel. Most channels
        do not support the reception of text. Returns <literal>-1</literal> for failure
        or <literal>1</literal> for success, and the string in parenthesis.</para>""",
    "record file": """<para>Record to a file until a given dtmf digit in the sequence is received.
        Returns <literal>-1</literal> on hangup or error.  The format will specify what kind of file
        will be recorded. The <replaceable>timeout</replaceable> is the maximum record time in
        milliseconds, or <literal>-1</literal> for no <replaceable>timeout</replaceable>.
        <replaceable>offset samples</replaceable> is optional, and, if provided, will seek
        to the offset without exceeding the end of the
        file. <replaceable>beep</replaceable> can take any value, and causes Asterisk
        to play a beep to the channel that is about to be recorded.
        <replaceable>silence</replaceable> is
        the number of seconds of silence allowed before the function returns despite the
        lack of dtmf digits or reaching <replaceable>timeout</replaceable>.
        <replaceable>silence</replaceable>
        value must be preceded by <literal>s=</literal> and is also optional.</para>""",
    "say alpha": """
        <para>Say a given character string, returning early if any of the given DTMF digits
        are received on the channel. Returns <literal>0</literal> if playback completes
        without a digit being pressed, or the ASCII numerical value of the digit if one
        was pressed or <literal>-1</literal> on error/hangup.</para>""",
    "say digits": """<para>Say a given digit string, returning early if any of the given DTMF digits
        are received on the channel. Returns <literal>0</literal> if playback completes
        without a digit being pressed, or the ASCII numerical value of the digit if one
        was pressed or <literal>-1</literal> on error/hangup.</para>""",
    "say number": """<para>Say a given number, returning early if any of the given DTMF digits
        are received on the channel.  Returns <literal>0</literal> if playback
        completes without a digit being pressed, or the ASCII numerical value of
        the digit if one was pressed or <literal>-1</literal> on error/hangup.</para>""",
    "say phonetic": """
        <para>Say a given character string with phonetics, returning early if any of the
        given DTMF digits are received on the channel. Returns <literal>0</literal> if
        playback completes without a digit pressed, the ASCII numerical value of the digit
        if one was pressed, or <literal>-1</literal> on error/hangup.</para>""",
    "send image": """<para>Sends the given image on a channel. Most channels do not support the
        transmission of images. Returns <literal>0</literal> if image is sent, or if
        the channel does not support image transmission.  Returns <literal>-1</literal>
        only on error/hangup. Image names should not include extensions.</para>""",
    "send text": """<para>Sends the given text on a channel. Most channels do not support the
        transmission of text. Returns <literal>0</literal> if text is sent, or if the
        channel does not support text transmission. Returns <literal>-1</literal> only
        on error/hangup.</para>""",
    "set autohangup": """
        <para>Cause the channel to automatically hangup at <replaceable>time</replaceable>
        seconds in the future. Of course it can be hungup before then as well. Setting to
        <literal>0</literal> will cause the autohangup feature to be disabled on this
        channel.</para>""",
    "set callerid": """<para>Changes the callerid of the current channel.</para>""",
    "set context": """
        <para>Sets the context for continuation upon exiting the application.</para>""",
    "set extension": """
        <para>Changes the extension for continuation upon exiting the application.</para>""",
    "set music": """
        <para>Enables/Disables the music on hold generator. If <replaceable>class</replaceable>
        is not specified, then the <literal>default</literal> music on hold class will be
        used. This generator will be stopped automatically when playing a file.</para>
        <para>Always returns <literal>0</literal>.</para>""",
    "set priority": """<para>Changes the priority for continuation upon exiting the application.
        The priority must be a valid priority or label.</para>""",
    "set variable": """<para>Sets a variable to the current channel.</para>""",
    "stream file": """<para>Send the given file, allowing playback to be interrupted by the given
        digits, if any. Returns <literal>0</literal> if playback completes without a digit
        being pressed, or the ASCII numerical value of the digit if one was pressed,
        or <literal>-1</literal> on error or if the channel was disconnected. If
        musiconhold is playing before calling stream file it will be automatically
        stopped and will not be restarted after completion.</para>
        <para>It sets the following channel variables upon completion:</para>
        <variablelist>
            <variable name="PLAYBACKSTATUS">
                <para>The status of the playback attempt as a text string.</para>
                <value name="SUCCESS"/>
                <value name="FAILED"/>
            </variable>
        </variablelist>""",
    "tdd mode": """
        <para>Enable/Disable TDD transmission/reception on a channel. Returns <literal>1</literal>
        if
        successful, or <literal>0</literal> if channel is not TDD-capable.</para>""",
    "verbose": """<para>Sends <replaceable>message</replaceable> to the console via verbose
        message system. <replaceable>level</replaceable> is the verbose level (1-4).
        Always returns <literal>1</literal></para>""",
    "wait for digit": """
        <para>Waits up to <replaceable>timeout</replaceable> milliseconds for channel to
        receive a DTMF digit. Returns <literal>-1</literal> on channel failure, <literal>0</literal>
        if no digit is received in the timeout, or the numerical value of the ascii of the digit if
        one is received. Use <literal>-1</literal> for the <replaceable>timeout</replaceable> value
        if
        you desire the call to block indefinitely.</para>""",
    "speech set": """<para>Set an engine-specific setting.</para>""",
    "speech load grammar": """<para>Loads the specified grammar as the specified name.</para>""",
    "speech unload grammar": """<para>Unloads the specified grammar.</para>""",
    "speech activate grammar": """
        <para>Activates the specified grammar on the speech object.</para>""",
    "speech deactivate grammar": """
        <para>Deactivates the specified grammar on the speech object.</para>""",
    "speech recognize": """
        <para>Plays back given <replaceable>prompt</replaceable> while listening for
        speech and dtmf.</para>""",
}

_SPECIAL_TAGS = {"note": "<note>NOTE:</note> ", "warning": "<warning>WARNING!!!:</warning> "}


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _para(node: ET.Element) -> str:
    """A <para>: whitespace runs collapse to one space; inline tags stay as markup."""
    parts = [_clean(node.text or "")]
    for child in node:
        parts.append(f"<{child.tag}>{_clean(child.text or '')}</{child.tag}>")
        parts.append(_clean(child.tail or ""))
    return "".join(parts).strip()


def render_usage(description_xml: str) -> str:
    """xmldoc.c's rendering of a <description> (`ast_xmldoc_build_description`)."""
    root = ET.fromstring(f"<description>{description_xml}</description>")
    out: list[str] = []
    for node in root:
        if node.tag == "para":
            out.append(_para(node) + "\n")
        elif node.tag in _SPECIAL_TAGS:
            out.append(_SPECIAL_TAGS[node.tag])
            out.extend(_para(p) + "\n" for p in node if p.tag == "para")
        elif node.tag == "variablelist":
            for var in node.iter("variable"):
                out.append(f"<variable>{var.get('name')}</variable>: ")
                for item in var:
                    if item.tag == "para":
                        out.append(_para(item) + "\n")
                    elif item.tag == "value":
                        out.append(f"    <value>{item.get('name')}</value>")
                        text = _clean(item.text or "").strip()
                        out.append(f" {text}\n" if text else "\n")
        elif node.tag == "enumlist":
            for enum in node.iter("enum"):
                out.append(f"    <enum>{enum.get('name')}</enum>")
                paras = [p for p in enum if p.tag == "para"]
                if paras:
                    out.append(" - " + _para(paras[0]) + "\n")
                    out.extend("    " + _para(p) + "\n" for p in paras[1:])
                else:
                    out.append("\n")
    return "".join(out).rstrip("\n")


USAGE: dict[str, str] = {name: render_usage(xml) for name, xml in _DESCRIPTIONS.items()}


# --------------------------------------------------------------------------- parsing


def parse_command_args(line: str) -> list[str]:
    """res_agi.c `parse_args`: split on spaces/tabs, `"` quotes, `\\` escapes one char."""
    argv: list[str] = []
    cur: list[str] | None = None
    quoted = escaped = False
    for c in line:
        if c == '"' and not escaped:
            quoted = not quoted
            if quoted and cur is None:
                cur = []
                argv.append("")  # placeholder, filled below
            continue
        if c in " \t" and not quoted and not escaped:
            if cur is not None:
                argv[-1] = "".join(cur)
                cur = None
            continue
        if c == "\\" and not escaped:
            escaped = True
            continue
        if cur is None:
            cur = []
            argv.append("")
        cur.append(c)
        escaped = False
    if cur is not None:
        argv[-1] = "".join(cur)
    return argv[:127]


@dataclass(frozen=True, slots=True)
class AgiUrl:
    scheme: str
    host: str
    port: int
    script: str  # text after the first '/', query kept; "" if none
    explicit_port: bool


def parse_agi_url(url: str) -> AgiUrl | None:
    """`agi://host[:port][/script]` (or `hagi://`); None for anything else."""
    lower = url.lower()
    if lower.startswith("agi://"):
        scheme, rest = "agi", url[6:]
    elif lower.startswith("hagi://"):
        scheme, rest = "hagi", url[7:]
    else:
        return None
    hostport, slash, script = rest.partition("/")
    host, port, explicit = hostport, AGI_PORT, False
    if hostport.startswith("["):
        close = hostport.find("]")
        host = hostport[1:close] if close > 0 else hostport
        tail = hostport[close + 1 :] if close > 0 else ""
        if tail.startswith(":") and tail[1:].isdigit():
            port, explicit = int(tail[1:]), True
    elif ":" in hostport:
        h, _, p = hostport.rpartition(":")
        if p.isdigit():
            host, port, explicit = h, int(p), True
    return AgiUrl(scheme, host, port, script if slash else "", explicit)


# --------------------------------------------------------------------------- the session


class _Wait:
    """One blocking wait of a command: ends on a digit, a timer, or the hangup."""

    def __init__(self, future: asyncio.Future[tuple[str, str]]) -> None:
        self.future = future
        self.handle: Handle | None = None

    def finish(self, kind: str, value: str = "") -> None:
        if self.handle is not None:
            self.handle.cancel()
        if not self.future.done():
            self.future.set_result((kind, value))


Command = Callable[[list[str]], Awaitable[int]]


class FastAgiSession:
    """One FastAGI session. `await run()` returns the AGISTATUS value."""

    def __init__(
        self,
        host: AgiHost,
        url: str,
        args: list[str] | None = None,
        *,
        version: str = "22.10.1",
        threadid: int = 140258327992000,
        connect_timeout: float = MAX_AGI_CONNECT,
        sighup: bool | None = None,
        exit_on_hangup: bool | None = None,
        connect_to: tuple[str, int] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """`connect_to` dials another address than the URL's (a test server, a NAT'd
        backend) while the environment still shows the URL as written; `rng` draws the
        CommandIds."""
        self.host = host
        self._random = rng or random.Random()
        self.connect_to = connect_to
        self.url = url
        self.args = list(args or [])
        self.version = version
        self.threadid = threadid
        self.connect_timeout = connect_timeout
        sighup_var = host.get_variable("AGISIGHUP") if sighup is None else None
        self.send_sighup = sighup if sighup is not None else not _ast_false(sighup_var)
        exit_var = host.get_variable("AGIEXITONHANGUP") if exit_on_hangup is None else None
        self.exit_on_hangup = exit_on_hangup if exit_on_hangup is not None else _ast_true(exit_var)
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._wait: _Wait | None = None
        self._hangup_seen = asyncio.Event()
        self._dead = host.is_hung_up()  # AGI on an already hung-up channel runs dead
        self._needhup = False
        self._status = SUCCESS
        self._autohangup: Handle | None = None
        self._in_command = False
        self._queued: collections.deque[str] = collections.deque()
        self._commands: list[tuple[tuple[str, ...], Command, bool]] = [
            (("answer",), self._answer, False),
            (("asyncagi", "break"), self._asyncagi_break, True),
            (("channel", "status"), self._channel_status, False),
            (("database", "del"), self._db_del, True),
            (("database", "deltree"), self._db_deltree, True),
            (("database", "get"), self._db_get, True),
            (("database", "put"), self._db_put, True),
            (("exec",), self._exec, True),
            (("get", "data"), self._get_data, False),
            (("get", "full", "variable"), self._get_full_variable, True),
            (("get", "option"), self._get_option, False),
            (("get", "variable"), self._get_variable, True),
            (("hangup",), self._hangup, False),
            (("noop",), self._noop, True),
            (("receive", "char"), self._receive_char, False),
            (("receive", "text"), self._receive_text, False),
            (("record", "file"), self._record_file, False),
            (("say", "alpha"), self._say_alpha, False),
            (("say", "digits"), self._say_digits, False),
            (("say", "number"), self._say_number, False),
            (("say", "phonetic"), self._say_phonetic, False),
            (("send", "image"), self._send_image, False),
            (("send", "text"), self._send_text, False),
            (("set", "autohangup"), self._set_autohangup, False),
            (("set", "callerid"), self._set_callerid, False),
            (("set", "context"), self._set_context, False),
            (("set", "extension"), self._set_extension, False),
            (("set", "music"), self._set_music, False),
            (("set", "priority"), self._set_priority, False),
            (("set", "variable"), self._set_variable, True),
            (("stream", "file"), self._stream_file, False),
            (("control", "stream", "file"), self._control_stream_file, False),
            (("tdd", "mode"), self._tdd_mode, False),
            (("verbose",), self._verbose, True),
            (("wait", "for", "digit"), self._wait_for_digit, False),
            (("speech", "create"), self._speech_none, False),
            (("speech", "set"), self._speech_args(4), False),
            (("speech", "destroy"), self._speech_none, True),
            (("speech", "load", "grammar"), self._speech_args(5), False),
            (("speech", "unload", "grammar"), self._speech_args(4), True),
            (("speech", "activate", "grammar"), self._speech_args(4), False),
            (("speech", "deactivate", "grammar"), self._speech_args(4), False),
            (("speech", "recognize"), self._speech_recognize, False),
            (("gosub",), self._gosub, False),  # registered later, by app_stack
        ]

    # ------------------------------------------------------------------ wire

    def _send(self, text: str) -> None:
        if self._writer is None or self._writer.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._writer.write(text.encode("utf-8", "surrogateescape"))

    async def _drain(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._writer.drain()

    def environment(self, script: str) -> str:
        """The bytes `launch_netscript` and `setup_env` send, in their order."""
        ch = self.host.channel
        lines = ["agi_network: yes"]
        if script:
            lines.append(f"agi_network_script: {script}")
        has_id = bool(ch.caller_num or ch.caller_name)
        lines += [
            f"agi_request: {self.url}",
            f"agi_channel: {ch.name}",
            f"agi_language: {ch.language}",
            f"agi_type: {ch.tech}",
            f"agi_uniqueid: {ch.uniqueid}",
            f"agi_version: {self.version}",
            f"agi_callerid: {ch.caller_num or 'unknown'}",
            f"agi_calleridname: {ch.caller_name or 'unknown'}",
            f"agi_callingpres: {0 if has_id else 67}",
            "agi_callingani2: 0",
            "agi_callington: 0",
            "agi_callingtns: 0",
            f"agi_dnid: {ch.dnid or 'unknown'}",
            f"agi_rdnis: {ch.variables.get('__RDNIS') or 'unknown'}",
            f"agi_context: {ch.context}",
            f"agi_extension: {ch.exten}",
            f"agi_priority: {ch.priority}",
            "agi_enhanced: 0.0",
            f"agi_accountcode: {ch.accountcode}",
            f"agi_threadid: {self.threadid}",
        ]
        lines += [f"agi_arg_{n}: {arg}" for n, arg in enumerate(self.args, start=1)]
        return "".join(line + "\n" for line in lines) + "\n"

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> str:
        """The session; its AGISTATUS once time runs (the dialplan goes on from here)."""
        status = await self._session()
        await self.host.scheduler.running()
        return status

    async def _session(self) -> str:
        parsed = parse_agi_url(self.url)
        if parsed is None:
            return NOTFOUND  # a local script: pbxsim runs none, as if the file were missing
        if parsed.scheme == "hagi" and not parsed.explicit_port:
            return FAILURE  # SRV lookups are not simulated
        try:
            address = self.connect_to or (parsed.host, parsed.port)
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*address), self.connect_timeout
            )
        except (OSError, TimeoutError):
            return FAILURE
        self._reader, self._writer = reader, writer
        unsubscribe_hangup = self.host.on_hangup(self._on_hangup)
        unsubscribe_dtmf = self.host.on_dtmf(self._on_dtmf)
        try:
            self._send(self.environment(parsed.script))
            await self._drain()
            await self._loop()
            if self.send_sighup:
                self._send("HANGUP\n")  # run_agi tells a fast AGI server again on exit
                await self._drain()
        finally:
            unsubscribe_hangup()
            unsubscribe_dtmf()
            if self._autohangup is not None:
                self._autohangup.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await writer.wait_closed()
        return self._status

    def _on_hangup(self) -> None:
        self._hangup_seen.set()
        if self._wait is not None:
            self._wait.finish("hangup")

    def _on_dtmf(self, digit: str) -> None:
        # during a command the channel queues frames for the command to read; between
        # commands run_agi's idle loop reads and drops them
        if self._wait is not None and not self._wait.future.done():
            self._wait.finish("dtmf", digit)
        elif self._in_command:
            self._queued.append(digit)

    def _check_hangup(self) -> None:
        if not self._dead and (self._hangup_seen.is_set() or self.host.is_hung_up()):
            self._needhup = True
            if self._status == SUCCESS:
                self._status = HANGUP

    async def _loop(self) -> None:
        assert self._reader is not None
        read: asyncio.Task[bytes] | None = None
        try:
            while True:
                self._check_hangup()
                if self._needhup:
                    self._needhup = False
                    self._dead = True
                    if self.send_sighup:
                        self._send("HANGUP\n")
                        await self._drain()
                    if self.exit_on_hangup:
                        return
                if read is None:
                    read = asyncio.ensure_future(self._reader.readline())
                if not self._dead:
                    hup = asyncio.ensure_future(self._hangup_seen.wait())
                    await asyncio.wait({read, hup}, return_when=asyncio.FIRST_COMPLETED)
                    hup.cancel()
                    if not read.done():
                        continue  # the hangup: announce it before reading on
                else:
                    await asyncio.wait({read})
                try:
                    raw = read.result()
                except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                    raw = b""
                read = None
                await self.host.scheduler.running()  # a paused PBX carries out nothing
                if not raw:
                    return  # the server closed: "AGI Script ... completed"
                line = raw.decode("utf-8", "surrogateescape")
                if line.endswith("\n"):
                    line = line[:-1]
                await self._handle(line)
                await self._drain()
        finally:
            if read is not None:
                read.cancel()

    # ------------------------------------------------------------------ dispatch

    def _find(self, argv: list[str]) -> tuple[tuple[str, ...], Command, bool] | None:
        lowered = [a.lower() for a in argv]
        for words, handler, dead_ok in self._commands:
            if len(lowered) >= len(words) and tuple(lowered[: len(words)]) == words:
                return words, handler, dead_ok
        return None

    async def _handle(self, line: str) -> None:
        """`agi_handle_command`: each command is published as `AGIExecStart` (its line as
        received, a random CommandId) and `AGIExecEnd` (ResultCode and Result)."""
        command_id = str(self._random.randrange(_COMMAND_IDS))
        self.host.agi_event("AGIExecStart", [("CommandId", command_id), ("Command", line)])

        def ended(code: int, text: str) -> None:
            self.host.agi_event(
                "AGIExecEnd",
                [
                    ("CommandId", command_id),
                    ("Command", line),
                    ("ResultCode", str(code)),
                    ("Result", text),
                ],
            )

        argv = parse_command_args(line)
        found = self._find(argv)
        if found is None:
            self._send("510 Invalid or unknown command\n")
            ended(510, "Invalid or unknown command")
            return
        words, handler, dead_ok = found
        if self._dead and not dead_ok:
            self._send("511 Command Not Permitted on a dead channel or intercept routine\n")
            ended(511, "Command Not Permitted on a dead channel or intercept routine")
            return
        self._in_command = True
        try:
            result = await handler(argv)
        finally:
            self._in_command = False
            self._queued.clear()
        ended(*_EXEC_END.get(result, (200, "Success")))
        if result == _RESULT_SHOWUSAGE:
            usage = USAGE.get(" ".join(words))
            if usage:
                self._send("520-Invalid command syntax.  Proper usage follows:\n")
                self._send(f"{usage}\n")
                self._send("520 End of proper usage.\n")
            else:
                self._send("520 Invalid command syntax.  Proper usage not available.\n")
        elif result == _RESULT_FAILURE and (self._dead or not self.host.is_hung_up()):
            self._status = FAILURE  # a failure that was not caused by a hangup

    # ------------------------------------------------------------------ waiting

    async def _wait_for(self, seconds: float | None) -> tuple[str, str]:
        """Wait for a digit; ("dtmf", d), ("timeout", ""), or ("hangup", "")."""
        if self._queued:
            return "dtmf", self._queued.popleft()
        if self.host.is_hung_up():
            return "hangup", ""
        loop = asyncio.get_running_loop()
        wait = _Wait(loop.create_future())
        if seconds is not None:
            wait.handle = self.host.scheduler.call_later(max(0.0, seconds), wait.finish, "timeout")
        self._wait = wait
        try:
            return await wait.future
        finally:
            self._wait = None
            if wait.handle is not None:
                wait.handle.cancel()

    async def _play(self, files: list[str], breakon: str) -> tuple[int, float]:
        """`ast_streamfile` + `ast_waitstream_full`: (result, seconds played).

        Result: 0 played out, ASCII of a digit in `breakon`, -1 hangup or missing file.
        Digits not in `breakon` do not interrupt.
        """
        played = 0.0
        for name in files:
            length = self.host.sound_length(name)
            if length is None:
                return -1, played
            start = self.host.scheduler.now()
            end = start + length
            while True:
                remaining = end - self.host.scheduler.now()
                if remaining <= 0:
                    break
                kind, digit = await self._wait_for(remaining)
                if kind == "timeout":
                    break
                if kind == "hangup":
                    return -1, played + (self.host.scheduler.now() - start)
                if digit in breakon:
                    return ord(digit), played + (self.host.scheduler.now() - start)
            played += length
        return 0, played

    async def _wait_digit(self, timeout_ms: int) -> int:
        """`ast_waitfordigit_full`: ASCII of the digit, 0 on timeout, -1 on hangup."""
        kind, digit = await self._wait_for(None if timeout_ms < 0 else timeout_ms / 1000.0)
        if kind == "dtmf":
            return ord(digit)
        return 0 if kind == "timeout" else -1

    # ------------------------------------------------------------------ commands

    async def _answer(self, argv: list[str]) -> int:
        res = 0
        if self.host.channel.state != UP:
            res = self.host.answer()
        self._send(f"200 result={res}\n")
        return _RESULT_SUCCESS if res >= 0 else _RESULT_FAILURE

    async def _asyncagi_break(self, argv: list[str]) -> int:
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    async def _channel_status(self, argv: list[str]) -> int:
        if len(argv) == 2:
            self._send(f"200 result={self.host.channel.state}\n")
            return _RESULT_SUCCESS
        if len(argv) == 3:
            state = self.host.channel_state(argv[2])
            self._send(f"200 result={state if state is not None else -1}\n")
            return _RESULT_SUCCESS
        return _RESULT_SHOWUSAGE

    async def _db_get(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return _RESULT_SHOWUSAGE
        db = self.host.db
        if db is None:
            self._send("200 result=-1\n")
            return _RESULT_SUCCESS
        value = db.get(argv[2], argv[3])
        self._send("200 result=0\n" if value is None else f"200 result=1 ({value})\n")
        return _RESULT_SUCCESS

    async def _db_put(self, argv: list[str]) -> int:
        if len(argv) != 5:
            return _RESULT_SHOWUSAGE
        db = self.host.db
        ok = db is not None and db.put(argv[2], argv[3], argv[4])
        self._send(f"200 result={1 if ok else 0}\n")
        return _RESULT_SUCCESS

    async def _db_del(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return _RESULT_SHOWUSAGE
        db = self.host.db
        ok = db is not None and db.delete(argv[2], argv[3])
        self._send(f"200 result={1 if ok else 0}\n")
        return _RESULT_SUCCESS

    async def _db_deltree(self, argv: list[str]) -> int:
        if len(argv) not in (3, 4):
            return _RESULT_SHOWUSAGE
        db = self.host.db
        deleted = db.deltree(argv[2], argv[3] if len(argv) == 4 else None) if db else 0
        # res_agi.c prints '0' when something was deleted: the inverted test is Asterisk's
        self._send(f"200 result={0 if deleted > 0 else 1}\n")
        return _RESULT_SUCCESS

    async def _exec(self, argv: list[str]) -> int:
        if len(argv) < 2:
            return _RESULT_SHOWUSAGE
        data = argv[2] if len(argv) >= 3 else ""
        if _ast_true(self.host.get_variable("AGIEXECFULL")) and len(argv) >= 3:
            data = self.host.substitute(data) or ""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()

        def finished(res: int) -> None:
            if not done.done():
                done.set_result(res)

        if not self.host.exec_app(argv[1], data, finished):
            finished(-2)
        res = await done
        self._send(f"200 result={res}\n")
        return res  # "Even though this is wrong, users are depending upon this result."

    async def _get_data(self, argv: list[str]) -> int:
        if len(argv) < 3:
            return _RESULT_SHOWUSAGE
        timeout = _atoi(argv[3]) if len(argv) >= 4 else 0
        maxlen = _atoi(argv[4]) if len(argv) >= 5 else 1024
        res, digits = await self._read_string(argv[2], maxlen, timeout)
        if res == 1:
            self._send(f"200 result={digits} (timeout)\n")
        elif res < 0:
            self._send("200 result=-1\n")
        else:
            self._send(f"200 result={digits}\n")
        return _RESULT_SUCCESS

    async def _read_string(self, prompt: str, maxlen: int, timeout_ms: int) -> tuple[int, str]:
        """`ast_app_getdata_full` + `ast_readstring_full`: (0 done / 1 timeout / 3 empty
        `#` / -1 failure, digits). `#` ends input and is not part of it."""
        first_ms, next_ms = 6000, 2000
        if timeout_ms > 0:
            first_ms = next_ms = timeout_ms
        elif timeout_ms < 0:
            first_ms = next_ms = 1_000_000_000
        if self.host.is_hung_up() or maxlen == 0:
            return -1, ""
        digits = ""
        to = first_ms
        stream = [prompt] if prompt else []
        if stream and self.host.sound_length(prompt) is None:
            return -1, ""
        while True:
            if stream:
                d, _ = await self._play(stream, "0123456789*#ABCD")
                stream = []
                if d == 0:
                    d = await self._wait_digit(to)
            else:
                d = await self._wait_digit(to)
            if d < 0:
                return -1, digits
            if d == 0:
                return 1, digits
            c = chr(d)
            if c == "#" and not digits:
                return 3, ""
            if c != "#":
                digits += c
            if c == "#" or len(digits) >= maxlen:
                return 0, digits
            to = next_ms

    async def _get_full_variable(self, argv: list[str]) -> int:
        if len(argv) not in (4, 5):
            return _RESULT_SHOWUSAGE
        value = self.host.substitute(argv[3], argv[4] if len(argv) == 5 else None)
        self._send("200 result=0\n" if value is None else f"200 result=1 ({value})\n")
        return _RESULT_SUCCESS

    async def _get_option(self, argv: list[str]) -> int:
        if len(argv) not in (4, 5):
            return _RESULT_SHOWUSAGE
        edigits = argv[3]
        timeout = _atoi(argv[4]) if len(argv) == 5 else 5000
        length = self.host.sound_length(argv[2])
        if length is None:
            self._send("200 result=-1 endpos=0\n")
            return _RESULT_FAILURE
        res, played = await self._play([argv[2]], edigits)
        if res == 0:
            res = await self._wait_digit(timeout)
            if res > 0 and chr(res) not in edigits:
                res = 0
        self._send(f"200 result={res} endpos={int(played * SAMPLE_RATE)}\n")
        return _RESULT_SUCCESS if res >= 0 else _RESULT_FAILURE

    async def _get_variable(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        value = self.host.get_variable(argv[2])
        self._send("200 result=0\n" if value is None else f"200 result=1 ({value})\n")
        return _RESULT_SUCCESS

    async def _hangup(self, argv: list[str]) -> int:
        if len(argv) == 1:
            self.host.hangup(None)
            self._send("200 result=1\n")
            return _RESULT_SUCCESS
        if len(argv) == 2:
            self._send("200 result=1\n" if self.host.hangup(argv[1]) else "200 result=-1\n")
            return _RESULT_SUCCESS
        return _RESULT_SHOWUSAGE

    async def _noop(self, argv: list[str]) -> int:
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    async def _receive_char(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        # simulated channels carry no text: ast_recvchar gives 0 at once
        self._send("200 result=0 (timeout)\n")
        return _RESULT_SUCCESS

    async def _receive_text(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        self._send("200 result=-1\n")
        return _RESULT_SUCCESS

    async def _record_file(self, argv: list[str]) -> int:
        if len(argv) < 6:
            return _RESULT_SHOWUSAGE
        try:
            ms = int(argv[5])
        except ValueError:
            return _RESULT_SHOWUSAGE
        start = self.host.scheduler.now()
        escape = argv[4]
        while True:
            elapsed = self.host.scheduler.now() - start
            remaining = None if ms < 0 else ms / 1000.0 - elapsed
            if remaining is not None and remaining <= 0:
                kind, digit = "timeout", ""
            else:
                kind, digit = await self._wait_for(remaining)
            endpos = int((self.host.scheduler.now() - start) * SAMPLE_RATE)
            if kind == "hangup":
                self._send(f"200 result=-1 (hangup) endpos={endpos}\n")
                return _RESULT_FAILURE
            if kind == "dtmf" and digit in escape:
                self._send(f"200 result={ord(digit)} (dtmf) endpos={endpos}\n")
                return _RESULT_SUCCESS
            if kind == "timeout":
                self._send(f"200 result=0 (timeout) endpos={endpos}\n")
                return _RESULT_SUCCESS

    async def _say(self, files: list[str], escape: str) -> int:
        res, _ = await self._play(files, escape)
        self._send(f"200 result={res}\n")
        return _RESULT_SUCCESS if res >= 0 else _RESULT_FAILURE

    @staticmethod
    def _letters(text: str) -> list[str]:
        return [f"letters/{c.lower()}" if c.isalpha() else f"digits/{c}" for c in text]

    async def _say_alpha(self, argv: list[str]) -> int:
        if len(argv) not in (4, 5):
            return _RESULT_SHOWUSAGE
        if len(argv) == 5 and argv[4][:1] not in ("", "a", "A", "l", "L", "n", "N", "u", "U"):
            return _RESULT_SHOWUSAGE
        return await self._say(self._letters(argv[2]), argv[3])

    async def _say_phonetic(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return _RESULT_SHOWUSAGE
        return await self._say(self._letters(argv[2]), argv[3])

    async def _say_digits(self, argv: list[str]) -> int:
        if len(argv) != 4 or not re.match(r"\s*[+-]?\d", argv[2]):
            return _RESULT_SHOWUSAGE
        return await self._say([f"digits/{c}" for c in argv[2] if c.isdigit()], argv[3])

    async def _say_number(self, argv: list[str]) -> int:
        if len(argv) not in (4, 5) or not re.match(r"\s*[+-]?\d", argv[2]):
            return _RESULT_SHOWUSAGE
        return await self._say(_number_files(_atoi(argv[2])), argv[3])

    async def _send_image(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    async def _send_text(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    async def _set_autohangup(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        try:
            seconds = max(0.0, float(argv[2]))
        except ValueError:
            return _RESULT_SHOWUSAGE
        if self._autohangup is not None:
            self._autohangup.cancel()
            self._autohangup = None
        if seconds:
            self._autohangup = self.host.scheduler.call_later(seconds, self._auto_hangup)
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    def _auto_hangup(self) -> None:
        self.host.hangup(None)

    async def _set_callerid(self, argv: list[str]) -> int:
        if len(argv) >= 3:
            value = argv[2].strip()
            ch = self.host.channel
            if "<" in value and value.endswith(">"):
                name, _, num = value[:-1].partition("<")
                ch.caller_name, ch.caller_num = name.strip().strip('"'), num.strip()
            elif value.replace("+", "").replace("-", "").isdigit():
                ch.caller_num, ch.caller_name = value.replace("-", ""), ""
            else:
                ch.caller_name, ch.caller_num = value.strip('"'), ""
        self._send("200 result=1\n")
        return _RESULT_SUCCESS

    async def _set_context(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        self.host.explicit_goto(argv[2], None, None)
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    async def _set_extension(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        self.host.explicit_goto(None, argv[2], None)
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    async def _set_music(self, argv: list[str]) -> int:
        if len(argv) < 3:
            return _RESULT_SHOWUSAGE
        mode = argv[2].lower()
        if mode.startswith("on"):
            self.host.music_on_hold(True, argv[3] if len(argv) > 3 else None)
        elif mode.startswith("off"):
            self.host.music_on_hold(False, None)
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    async def _set_priority(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        m = re.match(r"\s*[+-]?\d+", argv[2])
        priority = int(m.group(0)) if m else self.host.find_label(argv[2])
        if priority is None or (m is None and priority < 1):
            return _RESULT_SHOWUSAGE
        self.host.explicit_goto(None, None, priority)
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    async def _set_variable(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return _RESULT_SHOWUSAGE
        self.host.set_variable(argv[2], argv[3])
        self._send("200 result=1\n")
        return _RESULT_SUCCESS

    async def _stream_file(self, argv: list[str]) -> int:
        if len(argv) not in (4, 5):
            return _RESULT_SHOWUSAGE
        offset = 0
        if len(argv) == 5:
            m = re.match(r"\s*[+-]?\d+", argv[4])
            if m is None:
                return _RESULT_SHOWUSAGE
            offset = int(m.group(0))
        length = self.host.sound_length(argv[2])
        if length is None:
            self._send(f"200 result=-1 endpos={offset}\n")
            return _RESULT_FAILURE
        res, played = await self._play([argv[2]], argv[3])
        endpos = min(offset + int(played * SAMPLE_RATE), int(length * SAMPLE_RATE))
        self._send(f"200 result={res} endpos={endpos}\n")
        self.host.set_variable("PLAYBACKSTATUS", "FAILED" if res else "SUCCESS")
        return _RESULT_SUCCESS if res >= 0 else _RESULT_FAILURE

    async def _control_stream_file(self, argv: list[str]) -> int:
        if len(argv) < 5 or len(argv) > 10:
            return _RESULT_SHOWUSAGE
        stop = argv[4]
        if len(argv) > 5 and not re.match(r"\s*[+-]?\d", argv[5]):
            return _RESULT_SHOWUSAGE
        if len(argv) > 9 and not re.match(r"\s*[+-]?\d", argv[9]):
            return _RESULT_SHOWUSAGE
        length = self.host.sound_length(argv[3])
        if length is None:
            res, played = -1, 0.0
        else:
            res, played = await self._play([argv[3]], stop)
        if res > 0:
            self.host.set_variable("CPLAYBACKSTATUS", "USERSTOPPED")
            self.host.set_variable("CPLAYBACKSTOPKEY", chr(res))
        else:
            self.host.set_variable("CPLAYBACKSTATUS", "ERROR" if res < 0 else "SUCCESS")
        offset_ms = -1 if (res == 0 and length is not None) else int(played * 1000)
        self.host.set_variable("CPLAYBACKOFFSET", str(offset_ms))
        self._send(f"200 result={res} endpos={offset_ms}\n")
        return _RESULT_SUCCESS if res >= 0 else _RESULT_FAILURE

    async def _tdd_mode(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return _RESULT_SHOWUSAGE
        self._send("200 result=0\n")  # no simulated channel is TDD-capable
        return _RESULT_SUCCESS

    async def _verbose(self, argv: list[str]) -> int:
        if len(argv) < 2:
            return _RESULT_SHOWUSAGE
        self._send("200 result=1\n")
        return _RESULT_SUCCESS

    async def _wait_for_digit(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return _RESULT_SHOWUSAGE
        m = re.match(r"\s*[+-]?\d+", argv[3])
        if m is None:
            return _RESULT_SHOWUSAGE
        res = await self._wait_digit(int(m.group(0)))
        self._send(f"200 result={res}\n")
        return _RESULT_SUCCESS if res >= 0 else _RESULT_FAILURE

    async def _gosub(self, argv: list[str]) -> int:
        if len(argv) not in (4, 5):
            return _RESULT_SHOWUSAGE
        context, exten = argv[1], argv[2]
        m = re.match(r"\s*[+-]?\d+", argv[3])
        wanted = str(int(m.group(0))) if m and int(m.group(0)) >= 1 else argv[3]
        priority = self.host.locate(context, exten, wanted)
        if priority is None:
            self._send("200 result=-1 Gosub label not found\n")
            return _RESULT_FAILURE
        loop = asyncio.get_running_loop()
        returned: asyncio.Future[bool] = loop.create_future()

        def finished(normal: bool) -> None:
            if not returned.done():
                returned.set_result(normal)

        res = self.host.run_subroutine(
            context, exten, priority, argv[4] if len(argv) == 5 else None, finished
        )
        if res:
            self._send(f"200 result={res} Gosub failed\n")
            return _RESULT_SUCCESS
        self._send("100 result=0 Trying...\n")
        await self._drain()
        normal = await returned
        self._send(f"200 result=0 Gosub complete{'' if normal else ' (abnormal exit)'}\n")
        return _RESULT_SUCCESS

    async def _speech_none(self, argv: list[str]) -> int:
        # no speech engine is loaded: create fails, and there is never an object
        self._send("200 result=0\n")
        return _RESULT_SUCCESS

    def _speech_args(self, argc: int) -> Command:
        async def handler(argv: list[str]) -> int:
            if len(argv) != argc:
                return _RESULT_SHOWUSAGE
            self._send("200 result=0\n")
            return _RESULT_SUCCESS

        return handler

    async def _speech_recognize(self, argv: list[str]) -> int:
        if len(argv) < 4:
            return _RESULT_SHOWUSAGE
        self._send("200 result=0\n")
        return _RESULT_SUCCESS


def _number_files(n: int) -> list[str]:
    """The English `ast_say_number_full` file sequence (digits/...), for its duration."""
    if n < 0:
        return ["digits/minus", *_number_files(-n)]
    if n < 20:
        return [f"digits/{n}"]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [f"digits/{tens * 10}"] + ([f"digits/{ones}"] if ones else [])
    for unit, name in ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand")):
        if n >= unit:
            high, low = divmod(n, unit)
            return [*_number_files(high), f"digits/{name}"] + (_number_files(low) if low else [])
    hundreds, low = divmod(n, 100)
    return [f"digits/{hundreds}", "digits/hundred"] + (_number_files(low) if low else [])


def _atoi(text: str) -> int:
    m = re.match(r"\s*[+-]?\d+", text)
    return int(m.group(0)) if m else 0


def _ast_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "true", "y", "t", "1", "on")


def _ast_false(value: str | None) -> bool:
    return (value or "").strip().lower() in ("no", "false", "n", "f", "0", "off")


def start_fastagi(session: FastAgiSession, done: Callable[[str], None]) -> Callable[[], None]:
    """Run a session as a task on the running loop; `done(AGISTATUS)` when it ends.

    This is the bridge to the callback-driven telephony code (the `AGI()` application).
    Returns a function that abandons the session (the socket is closed, `done` is not
    called), for a channel that is destroyed while AGI runs.
    """
    task = asyncio.ensure_future(session.run())

    def finished(t: asyncio.Task[str]) -> None:
        if not t.cancelled():
            done(t.result())

    task.add_done_callback(finished)

    def abandon() -> None:
        task.cancel()

    return abandon
