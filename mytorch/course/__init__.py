"""Course tooling around nbgrader: grading machinery, nbgrader preprocessors, the CLI.

Nothing in this package contains an answer to an exercise: the instructor's references and
probes live in ``grading/`` at the repository root, which is neither released to students
nor packaged in the wheel.
"""
