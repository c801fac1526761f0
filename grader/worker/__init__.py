"""The student's side of the boundary: the worker process that runs a submission's code.

Started as ``python -m grader.worker`` by :mod:`grader.isolation.sandbox`; nothing here
decides a score.
"""
