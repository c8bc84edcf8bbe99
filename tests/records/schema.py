"""What a migration test compares: the database's schema against models.py's."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

import callcenter.records.models  # noqa: F401  (registers the tables)
from callcenter.models import Base


def model_diff(connection: Connection, mentioning: str) -> list[object]:
    """The differences (types included) between the connected database and the models'
    metadata that mention `mentioning` (a table's or a column's name); [] when they agree."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [d for d in compare_metadata(context, Base.metadata) if mentioning in repr(d)]
