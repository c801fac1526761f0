"""Measuring Keras models as the contract states, from plain data the grader vetted.

- :mod:`~grader.measuring.measure`: gradient norms and training runs;
- :mod:`~grader.measuring.models`: a model or optimizer received as plain data, vetted
  against an allow-list and rebuilt.
"""
