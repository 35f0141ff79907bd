"""Shared by every test folder: ``tests/`` is put on ``sys.path`` (pytest does so for a
conftest's folder), so ``check_helpers`` and ``fixtures.grading`` import the same way from
``tests/lessons/``, ``tests/grading/`` and ``tests/`` itself."""
