"""`python -m pbxsim [options]` serves; `python -m pbxsim erlang ...` checks the queue model."""

from __future__ import annotations

import sys


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["erlang"]:
        from pbxsim.erlang import main as erlang_main

        return erlang_main(argv[1:])
    from pbxsim.server import main as serve_main

    return serve_main(argv)


if __name__ == "__main__":
    sys.exit(main())
