"""The course's core: settings and paths, the one dbt invocation layer, dbt manifest helpers and the
one-line command-line errors. Every other package of the course imports from here; this package
imports none of them."""
