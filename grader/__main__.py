"""``python -m grader``: dispatch to the verbs (check, grade, assign)."""

from __future__ import annotations

import sys

from grader.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
