"""The course material made from the reference solutions: notebooks and stubs
(:mod:`~grader.course.generate`, from :mod:`~grader.course.sources`), the example
submissions (:mod:`~grader.course.examples`), the student kit (:mod:`~grader.course.kit`) and
Gradescope's autograder zip (:mod:`~grader.course.gradescope`).
"""
