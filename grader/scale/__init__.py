"""Grading a whole class: :mod:`~grader.scale.batch` on this machine's cores,
:mod:`~grader.scale.cluster` on a Dask cluster."""
