"""Stakeholder documentation of a dbt mart (exercise 5.5): a data dictionary generated from dbt's
artifacts and the dashboard wireframe drawn from the warehouse. See ``data_dictionary`` and ``dashboard``."""

from stakeholder_docs.data_dictionary import (
    DocsError,
    build_dictionary,
    business_sql,
    example_values,
    load_artifacts,
    to_markdown,
    undocumented_columns,
)

__all__ = [
    "DocsError",
    "build_dictionary",
    "business_sql",
    "example_values",
    "load_artifacts",
    "to_markdown",
    "undocumented_columns",
]
