"""AstDB: Asterisk's key/value store (main/db.c), on the same SQLite statements.

Asterisk keeps every entry in one SQLite table under the key ``/family/key``, and its
tree operations use ``LIKE``. That makes them case-insensitive for ASCII and treats
``%`` and ``_`` in a family as wildcards. Rather than imitate those rules, this module
runs Asterisk's own SQL on an in-memory database (sqlite3 is in the standard library),
so every quirk is the real one. The limits are Asterisk's too: ``/family/key`` must fit
in 255 bytes, and a read through the AMI (`DBGet`) returns at most 255 bytes of value.
`AstDB` also satisfies `dialplan.functions.AstDBLike` for ``${DB()}`` and AGI.
"""

from __future__ import annotations

import sqlite3

MAX_DB_FIELD = 256  # main/db.c: key and value buffers

_CREATE = "CREATE TABLE IF NOT EXISTS astdb(key VARCHAR(256), value VARCHAR(256), PRIMARY KEY(key))"
_PUT = "INSERT OR REPLACE INTO astdb (key, value) VALUES (?, ?)"
_GET = "SELECT value FROM astdb WHERE key=?"
_DEL = "DELETE FROM astdb WHERE key=?"
_DELTREE = "DELETE FROM astdb WHERE key || '/' LIKE ? || '/' || '%'"
_DELTREE_ALL = "DELETE FROM astdb"
_GETTREE = "SELECT key, value FROM astdb WHERE key || '/' LIKE ? || '/' || '%' ORDER BY key"
_GETTREE_ALL = "SELECT key, value FROM astdb ORDER BY key"


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _truncate(text: str, limit: int) -> str:
    """`ast_copy_string` into a buffer of `limit + 1` bytes."""
    raw = text.encode("utf-8", "surrogateescape")
    return text if len(raw) <= limit else raw[:limit].decode("utf-8", "surrogateescape")


class AstDB:
    """One Asterisk database. Methods return what the C functions return, so the AMI
    actions and the dialplan functions (``DB()``, ``DB_DELETE()``) share one behaviour."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:")
        self._db.execute(_CREATE)

    @staticmethod
    def _fullkey(family: str, key: str) -> str | None:
        # "strlen(family) + strlen(key) + 2 > sizeof(fullkey) - 1" -> refused
        if _nbytes(family) + _nbytes(key) + 2 > MAX_DB_FIELD - 1:
            return None
        return f"/{family}/{key}"

    def _run(self, sql: str, *args: str) -> sqlite3.Cursor | None:
        try:
            return self._db.execute(sql, args)
        except UnicodeEncodeError:
            return None  # bytes that are not UTF-8: SQLite would store a different key

    def put(self, family: str, key: str, value: str) -> bool:
        """`ast_db_put`: False when the key is too long (AMI: "Failed to update entry")."""
        fullkey = self._fullkey(family, key)
        if fullkey is None:
            return False
        return self._run(_PUT, fullkey, value) is not None

    def get(self, family: str, key: str, limit: int | None = None) -> str | None:
        """`ast_db_get`; None when absent. `limit` is the caller's buffer size minus one:
        the AMI's DBGet reads into 256 bytes (255), ``${DB()}`` into its workspace."""
        fullkey = self._fullkey(family, key)
        if fullkey is None:
            return None
        cursor = self._run(_GET, fullkey)
        row = cursor.fetchone() if cursor is not None else None
        if row is None:
            return None
        value = str(row[0])
        return value if limit is None else _truncate(value, limit)

    def delete(self, family: str, key: str) -> bool:
        """`ast_db_del2`: False when the entry does not exist (Asterisk 22's DBDel)."""
        fullkey = self._fullkey(family, key)
        if fullkey is None or self.get(family, key, limit=0) is None:
            return False
        return self._run(_DEL, fullkey) is not None

    def deltree(self, family: str | None = None, key: str | None = None) -> int:
        """`ast_db_deltree`: how many entries were removed (-1: key too long)."""
        if not family:
            cursor = self._run(_DELTREE_ALL)
        else:
            prefix = f"/{family}/{key}" if key else f"/{family}"
            if _nbytes(prefix) > MAX_DB_FIELD - 1:
                return -1
            cursor = self._run(_DELTREE, prefix)
        return cursor.rowcount if cursor is not None else -1

    def gettree(self, family: str | None = None, key: str | None = None) -> list[tuple[str, str]]:
        """`ast_db_gettree` / DBGetTree: (full key, value) pairs in key order."""
        if not family:
            cursor = self._run(_GETTREE_ALL)
        else:
            prefix = f"/{family}/{key}" if key else f"/{family}"
            cursor = self._run(_GETTREE, _truncate(prefix, MAX_DB_FIELD - 1))  # snprintf
        if cursor is None:
            return []
        return [(str(k), str(v)) for k, v in cursor.fetchall()]

    def __len__(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM astdb").fetchone()
        return int(row[0])
