"""The dbt command line, started lighter: ``python -m course_core.dbt_cli ARGS...`` (or
``python course_core/dbt_cli.py ARGS...``, or the ``dbt-light`` script) is ``dbt ARGS...``: dbt's own
``cli`` with the same arguments, output, artifacts and exit code, without what dbt never uses.

The one trim: :func:`course_core.dbt_invoke.skip_rfc3987_import` (jsonschema's optional "iri" format
checks, a Lark grammar built at import): a ``dbt ls`` costs ~2.9 CPU-s instead of ~4.6-4.9. Measured
and left alone, because dbt uses them: the JSON schemas dbt builds to validate its configs (~0.4
CPU-s), networkx, agate, mashumaro; jsonschema's other optional format modules cost ~0.03 CPU-s in all.
Every dbt process the course starts goes through here (course_core.dbt_invoke.dbt_command).
"""

import sys

if __name__ == "__main__" and not __package__:  # run as a file: import course_core from its checkout
    import os

    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from course_core.dbt_invoke import skip_rfc3987_import  # noqa: E402 - after the path fix above


def main() -> int:
    """Run dbt's command line on ``sys.argv[1:]``; exits (SystemExit) with dbt's exit code."""
    skip_rfc3987_import()
    from dbt.cli.main import cli

    return cli(prog_name="dbt")  # the name in usage and error messages, as the `dbt` script has it


if __name__ == "__main__":
    sys.exit(main())
