"""PostgreSQL: a batch of call records inserted by one statement with one parameter per
column.

Why not SQLAlchemy's executemany here: it renders multi-row VALUES pages with a bound
parameter per value (32 per record) and runs every value through its bind processor
(every JSON value through its own json.dumps); for a batch of hundreds of records that
compiling and encoding cost more than the database's work. Here each column travels as
one array, encoded by asyncpg's binary codecs, and each JSON column as one JSON array,
encoded by a single json.dumps; PostgreSQL zips them back into rows with ROWS FROM. The
statement's text does not depend on the batch: it is compiled once and asyncpg prepares
it once per connection.

What is stored does not change: strings travel as text and meet the columns' length
checks on assignment as before (a cast to varchar(n) would cut them silently instead),
and `json_array_elements` gives each element's text exactly as json.dumps wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, String, Table, literal_column, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.base import PGDialect


class ColumnBatch:
    """The INSERT ... SELECT FROM ROWS FROM (...) of `table`, and its parameters."""

    def __init__(self, table: Table) -> None:
        dialect = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped
        quote = dialect.identifier_preparer.quote
        self.names = tuple(column.name for column in table.columns)
        self._json = frozenset(c.name for c in table.columns if isinstance(c.type, JSON))
        sources = []
        for column in table.columns:
            if column.name in self._json:
                sources.append(f"json_array_elements(CAST(:{column.name} AS JSON))")
            else:
                sql_type = (
                    "TEXT" if isinstance(column.type, String) else column.type.compile(dialect)
                )
                sources.append(f"unnest(CAST(:{column.name} AS {sql_type}[]))")
        quoted = [quote(name) for name in self.names]
        rows = text(f"ROWS FROM ({', '.join(sources)}) AS batch({', '.join(quoted)})")
        self.insert = postgresql.insert(table).from_select(
            list(self.names),
            select(*(literal_column(f"batch.{name}") for name in quoted)).select_from(rows),
        )

    def params(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The rows (complete: a value for every column) as one parameter per column."""
        params: dict[str, Any] = {}
        for name in self.names:
            values = [row[name] for row in rows]
            params[name] = json.dumps(values) if name in self._json else values
        return params
