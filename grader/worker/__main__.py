"""``python -m grader.worker``: the worker process (:func:`grader.worker.serve.main`)."""

from grader.worker.serve import main

main()
