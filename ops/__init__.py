"""Operations tooling for the VyaparBazaar dbt project: monitoring, deployment, slim CI,
schedule validation, build profiling, project review and CI workflow checks.

Every module has a Python API and a CLI (`python -m ops.<module> --help`).
"""
