"""Reports a person opens: the HTML page and its plots, the class report, the gradebook.

The records themselves, and their text, JSON and Gradescope forms, are
:mod:`grader.results`.
"""
