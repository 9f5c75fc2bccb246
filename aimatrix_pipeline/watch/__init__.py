"""`aimatrix-pipeline watch` and `aimatrix-pipeline dagster`: the pipeline on your own database."""
