"""Autograder for the `exploding_gradients` assignment.

The folders, in the order a submission meets them:

- ``isolation/``: where student code runs (the jail, the sandbox, the channel's protocol);
- ``worker/``: the student's side of that boundary, which loads and calls the code;
- ``measuring/``: measuring Keras models (gradient norms, training) from vetted plain data;
- ``checks/``: one check per contract function (``checks/parts/``), comparing, diagnosing;
- ``reports/``: the HTML page, the class report, the gradebook;
- ``scale/``: a whole class, on this machine or a Dask cluster;
- ``course/``: the notebooks, stubs, examples and student kit made from the reference.

At the top: the contract (``assignment``), loading a submission (``submission``,
``locate``), the hidden cases' secret (``secret``), results as data (``results``),
what the student's code wrote made inert wherever a person reads it (``escaping``),
grading one submission (``grade``), the command line (``cli``) and the benchmark. The
modules that released notebooks import keep their names: ``notebook`` (``check``,
``grade``), ``demos`` and ``quiet``.
"""
