"""Application argument splitting, as main/app.c `__ast_app_separate_args` does it.

The AppData text of a priority is substituted first (that text is what `Newexten` shows),
then each application splits it. Most applications use `AST_STANDARD_APP_ARGS`: commas
separate arguments except inside (), [] or double quotes; quotes and backslashes are
removed. Functions like `IF()` and `DB()` use the non-standard form, which keeps them.
A fixed argument count matters: the last argument receives the unsplit remainder.
"""

from __future__ import annotations


def split_args(
    data: str, delim: str = ",", max_args: int | None = None, remove_chars: bool = True
) -> list[str]:
    """Split `data` like Asterisk; `max_args` is the application's declared argument count.

    `split_args("")` is `[]` (argc 0), `split_args("a,")` is `["a", ""]`.
    """
    if not data:
        return []
    limit = max_args if max_args is not None else 1 << 30
    args: list[str] = []
    paren = bracket = 0
    quote = False
    i, n = 0, len(data)
    ended_on_delim = False
    while i < n and len(args) < limit - 1:
        current: list[str] = []
        ended_on_delim = False
        while i < n:
            c = data[i]
            if c == "(":
                paren += 1
            elif c == ")":
                if paren:
                    paren -= 1
            elif c == "[":
                bracket += 1
            elif c == "]":
                if bracket:
                    bracket -= 1
            elif c == '"' and delim != '"':
                quote = not quote
                if remove_chars:
                    i += 1
                    continue
            elif c == "\\":
                if remove_chars:
                    # the backslash goes; the next character is taken literally, unparsed
                    i += 1
                    if i < n:
                        current.append(data[i])
                        i += 1
                    continue
                current.append(c)
                i += 1
                if i < n:
                    current.append(data[i])
                    i += 1
                continue
            elif c == delim and not paren and not quote and not bracket:
                i += 1
                ended_on_delim = True
                break
            current.append(c)
            i += 1
        args.append("".join(current))
    if i < n:
        args.append(data[i:])
    elif ended_on_delim:
        args.append("")
    return args


def split_app_call(text: str) -> tuple[str, str]:
    """`App(data)` -> (`App`, `data`), the way pbx_config.c reads the third field.

    Text before the first `(` is the application; the data runs to the *last* `)`.
    Without parentheses there is no data. A `${`/`$[` before the `(` means the whole
    field is the application name (hint lines like `DAHDI/g1/${X}`).
    """
    text = text.strip()
    paren = text.find("(")
    if paren < 0:
        return text, ""
    app = text[:paren]
    if "${" in app or "$[" in app:
        return text, ""
    data = text[paren + 1 :]
    close = data.rfind(")")
    if close >= 0:
        data = data[:close]
    return app.strip(), data
