"""Classroom grading that a learner's code cannot talk into a pass, and the learner's progress view.

Notebook autograders usually run their tests inside the learner's kernel, where the
learner's code can patch them. Here the kernel only *produces evidence*; the verdict
comes from another process that never runs learner code. One step per module:

* :mod:`.release` -- the folder learners receive (no solutions, no hidden checks).
* :mod:`.submission` -- read a handed-in notebook, rebuild it from the pristine release.
* :mod:`.capture` -- kernel side: save the evidence each check needs (bound before learner code).
* :mod:`.watchdog` -- time and memory limits for a process tree.
* :mod:`.run` -- execute a rebuilt notebook in a fresh kernel in a scratch folder.
* :mod:`.sandbox` -- each kernel in bubblewrap: only its folders, no network, no other process.
* :mod:`.verdict` -- the clean process: load evidence in safe mode, run the checks.
* :mod:`.bootstrap` -- its start: check code from the grader's memory, checked by digest.
* :mod:`.judge` -- the grader's side of the verdict process (start, ask, time out, re-judge).
* :mod:`.hidden` -- instructor-only checks, left out of the release.
* :mod:`.grader` -- grade a class in parallel; :mod:`.report` -- grades.csv and feedback.
* :mod:`.progress` -- the same pipeline, for one learner's own ``exercises/``.
"""
