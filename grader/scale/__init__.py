"""Grading a whole class.

- :mod:`~grader.scale.batch`: on this machine's cores, resumably;
- :mod:`~grader.scale.cluster`: on a Dask cluster;
- :mod:`~grader.scale.students`: a class's students, found in a submissions folder;
- :mod:`~grader.scale.freshness`: whether a stored report is up to date.
"""
