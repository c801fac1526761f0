"""The student's side of the boundary: the worker process that runs a submission's code.

Started as ``python -m grader.worker`` by :mod:`grader.isolation.sandbox`; nothing here
decides a score.

- :mod:`~grader.worker.serve`: serving the grader's requests (the zygote, one forked child
  per submission);
- :mod:`~grader.worker.loading`: a submission's loaded parts, held by
  :class:`~grader.worker.loading.Worker`;
- :mod:`~grader.worker.calls`: calling a student's function, answered with plain data;
- :mod:`~grader.worker.guards`: the run-time guards of what a part's code may reach;
- :mod:`~grader.worker.confine`: a submission's own namespaces, mounts and privileges (jail);
- :mod:`~grader.worker.reaping`: the killing of what a submission's processes leave behind;
- :mod:`~grader.worker.limits`: the resource limits the grader asked the worker to keep,
  set on its processes.

In the jail these modules are not imported from disk: the jail sends their sources
(:data:`grader.isolation.jail.WORKER_MODULES`).
"""
