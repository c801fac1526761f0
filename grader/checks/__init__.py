"""Checking a submission: one check per contract function, and what the checks use.

- :mod:`~grader.checks.registry`: the registry of checks, their cases and partial credit;
- :mod:`grader.checks.parts`: the checks of each part (add a part's module there);
- :mod:`~grader.checks.runner`: calling the student's functions, in a worker or a notebook;
- :mod:`~grader.checks.expected` and :mod:`~grader.checks.oracle`: the reference's answers
  (live, or recorded for the student kit), and the reference value of a helper;
- :mod:`~grader.checks.compare`, :mod:`~grader.checks.mistakes`: comparing numbers and
  diagnosing known mistakes; :mod:`grader.checks.simulators`: what each known mistake
  gives (the full package's only; a student kit holds their recorded values);
- :mod:`~grader.checks.measurer`: who measures a student's model (the grader's measuring
  code, or in a kit the student's own ``dense_grad_norms``);
- :mod:`~grader.checks.policy`: what a part's code may not import or call;
- :mod:`~grader.checks.layouts`, :mod:`~grader.checks.grader_state`: the grading process's
  warm-up and its global state kept the same from test to test.
"""
