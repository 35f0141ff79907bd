"""Settings for every test run, notebooks included.

The quiet TensorFlow environment is set here, before nbval starts any kernel, so
the kernels inherit it; the plugin enforces that error-demonstrating cells raise.
"""

from coursetools.quiet_env import apply_quiet_env

apply_quiet_env()

pytest_plugins = ["coursetools.pytest_plugin"]

# Fixture notebooks are inputs of tests, not lessons to validate.
collect_ignore_glob = ["tests/fixtures/*", ".venv/*", "build/*"]
