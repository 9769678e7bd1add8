"""VyaparBazaar raw-data generator: `python -m datasets.generate`, `python -m datasets.arrivals`.

From Python: `from datasets.generate import generate` (also `datasets.generate_raw`),
`from datasets import write_arrival, reset_arrivals, write_arrivals_through, add_edge_cases`.
"""

from datasets.calendar import AS_OF_DATE
from datasets.schema import SCHEMAS, TABLES

__all__ = [
    "AS_OF_DATE",
    "SCHEMAS",
    "TABLES",
    "generate_raw",
    "write_arrival",
    "reset_arrivals",
    "write_arrivals_through",
    "add_edge_cases",
]


def __getattr__(name: str):
    """Lazy access to the heavy entry points (keeps `import datasets` cheap)."""
    if name == "generate_raw":
        from datasets.generate import generate

        return generate
    if name in ("write_arrival", "reset_arrivals", "write_arrivals_through"):
        from datasets import arrivals

        return getattr(arrivals, name)
    if name == "add_edge_cases":
        from datasets.edge_cases import add_edge_cases

        return add_edge_cases
    raise AttributeError(name)
