"""Instructor-only checks, run when grading and never released (see coursetools.grading.hidden).

Every module in this package is imported by the verdict process. Keep each check a
function of plain evidence, like the visible checks, and give it a hint that helps
without revealing what is tested.
"""
