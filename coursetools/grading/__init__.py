"""Classroom grading that a learner's code cannot talk into a pass, and the learner's progress view.

Notebook autograders usually run their tests inside the learner's kernel, where the
learner's code can patch them. Here the kernel only *produces evidence*; the verdict
comes from another process that never runs learner code. One step per module, in the
order a notebook goes through them:

* :mod:`.release` -- the folder learners receive (no solutions, no hidden checks).
* :mod:`.snapshot` -- the course (pristine notebooks, check code) read into memory first.
* :mod:`.learners` -- every learner's folder read into memory before any learner code runs.
* :mod:`.notebook` -- one notebook's pipeline: read, rebuild, skip, run, judge, combine.
* :mod:`.submission` -- read a handed-in notebook, rebuild it from the pristine release.
* :mod:`.run` -- execute a rebuilt notebook in a scratch folder; :mod:`.kernel` starts and
  stops its fresh kernel; :mod:`.sandbox` -- in bubblewrap: only its folders, no network,
  no other process; :mod:`.watchdog` -- time, memory, process and file limits for a process
  tree; :mod:`.cgroups` -- a ``pids`` cgroup per kernel, where the grader may make one.
* :mod:`.capture` -- kernel side: save the evidence each check needs (bound before learner
  code), in the format of :mod:`coursetools.evidence`.
* :mod:`.collect` -- move a capture folder out of the kernel's reach; :mod:`.manifest` reads it.
* :mod:`.judge` -- the grader's side of the verdict process (start, ask, time out);
  :mod:`.protocol` -- the typed messages both sides exchange.
* :mod:`.verdict` -- the clean process: load evidence in safe mode, run the checks;
  :mod:`.bootstrap` -- its start: check code from the grader's memory, checked by digest.
* :mod:`.grader` -- grade a class in parallel; :mod:`.report` -- grades.csv and feedback;
  :mod:`.shards` -- a class split over machines, and the merge; :mod:`.signing` -- partial
  reports signed with the instructor's key, checked before a merge.
* :mod:`.options` -- the options and limits, with the only copy of their defaults;
  :mod:`.commands` -- the command line; :mod:`.outcome` -- rows and status names.
* :mod:`.progress` -- the same pipeline, for one learner's own ``exercises/``.

Hidden checks are declared like visible ones, in each lesson's ``hidden.py``
(:mod:`coursetools.registry`), and left out of the release.
"""
