"""Measuring Keras models as the contract states, from plain data the grader vetted.

- :mod:`~grader.measuring.measure`: gradient norms and training runs;
- :mod:`~grader.measuring.plain`: the plain values of a received config, vetted one at a
  time;
- :mod:`~grader.measuring.vetting`: a received model's config, vetted against an
  allow-list (and why an allow-list);
- :mod:`~grader.measuring.rebuild`: a Keras model rebuilt from its vetted plan;
- :mod:`~grader.measuring.optimizers`: a Keras optimizer received as plain data, rebuilt
  from an allow-list.
"""
