"""Which sound files a step of the call plays to the caller, from what AMI shows of it.

The IVR is a FastAGI server: it plays its greeting and menus with `STREAM FILE` and
`GET DATA`, which run inside the dialplan's one `AGI()` application, so no `Newexten`
names them. Asterisk reports each AGI command as `AGIExecStart` (manager read class
`agi`) with the command line exactly as the server sent it; res_agi.c's `parse_args`
splits it into words (double quotes group, a backslash escapes the next character),
and `tokens` below splits it the same way. Prompts the dialplan plays itself
(`Playback(goodbye)`) come as `Newexten`.
"""

from __future__ import annotations

#: AGI command words -> the index of the sound file among the command's words
_AGI_PLAYERS = {
    ("STREAM", "FILE"): 2,
    ("CONTROL", "STREAM", "FILE"): 3,
    ("GET", "DATA"): 2,
    ("GET", "OPTION"): 2,
}
#: dialplan applications that play files -> the argument holding them (`a&b` for two)
_APP_FILES = {"Playback": 0, "Background": 0, "BackGround": 0, "Read": 1}


def tokens(line: str) -> list[str]:
    """An AGI command line split into words the way res_agi.c's `parse_args` does."""
    words: list[str] = []
    word: list[str] = []
    quoted = escaped = started = False
    for char in line:
        if escaped:
            word.append(char)
            escaped = False
        elif char == "\\":
            escaped = started = True
        elif char == '"':
            quoted, started = not quoted, True
        elif char in " \t\r\n" and not quoted:
            if started:
                words.append("".join(word))
            word, started = [], False
        else:
            word.append(char)
            started = True
    if started:
        words.append("".join(word))
    return words


def agi_prompts(command: str) -> list[str]:
    """The files an AGI command plays: `STREAM FILE hotline/welcome "0"` ->
    `["hotline/welcome"]`; `EXEC Playback a&b` -> `["a", "b"]`; others none."""
    words = tokens(command)
    upper = [w.upper() for w in words]
    for verb, index in _AGI_PLAYERS.items():
        if tuple(upper[: len(verb)]) == verb:
            return [words[index]] if len(words) > index and words[index] else []
    if len(words) >= 2 and upper[0] == "EXEC":
        return app_prompts(words[1], " ".join(words[2:]))
    return []


def app_prompts(application: str, data: str) -> list[str]:
    """The files a dialplan application plays: `Playback(goodbye,noanswer)` ->
    `["goodbye"]`, `BackGround(a&b)` -> `["a", "b"]`; `SayDigits` says its digits."""
    if application == "SayDigits":
        return [data] if data else []
    index = _APP_FILES.get(application)
    if index is None:
        return []
    args = data.split(",")
    if len(args) <= index:
        return []
    return [name for name in args[index].split("&") if name]
