"""The layers of the dbt project for the lineage drawing (``course_core.dbt_layers.dag_layer``)."""

from __future__ import annotations

from course_core.dbt_layers import DAG_LAYERS as LAYERS
from course_core.dbt_layers import dag_layer as layer_of
from course_core.dbt_layers import dag_layer_rank as layer_rank

__all__ = ["LAYERS", "layer_of", "layer_rank"]
