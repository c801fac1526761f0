"""Reports a person opens: the HTML page and its plots, the class report, the gradebook.

- :mod:`~grader.reports.html` and :mod:`~grader.reports.figures`: the student's page;
- :mod:`~grader.reports.store`: a class's stored reports and pages, written atomically;
- :mod:`~grader.reports.class_report`: what a class got wrong (``class.html``);
- :mod:`~grader.reports.gradebook`: scores written into nbgrader's gradebook.

The records themselves, and their text, JSON and Gradescope forms, are
:mod:`grader.results`.
"""
