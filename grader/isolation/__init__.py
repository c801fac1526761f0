"""Where student code runs, seen from the grader: the jail, the sandbox and the channel.

- :mod:`~grader.isolation.jail`: the bubblewrap jail a worker runs in, or the plain process
  where none can be made, and what each mode guarantees;
- :mod:`~grader.isolation.sandbox`: starting a worker, its deadlines and limits, killing it;
- :mod:`~grader.isolation.protocol`: the plain data (JSON, arrays as raw bytes, never
  pickle) that crosses the boundary;
- :mod:`~grader.isolation.libraries`: the libraries the library rules name (the jail hides
  the autodiff libraries from the NumPy-only worker).

The student's side of the boundary is :mod:`grader.worker`.
"""
