"""How to install bubblewrap, said in one place for ``course.py setup`` and the grader's warning.

``course.py`` runs before the course's environment exists, with the standard library
only, so it cannot import ``coursetools`` (whose dependencies may not be installed
yet): it loads this file by its path instead. This module therefore imports nothing
at all (a test holds it to that); :mod:`.sandbox` imports it like any other module.
"""

PACKAGE = "bubblewrap"  # the system package, by this name on Debian, Ubuntu, Fedora and Arch
PROGRAM = "bwrap"
INSTALL_HINT = ("install bubblewrap (`sudo apt-get install bubblewrap` on Debian/Ubuntu, "
                "`sudo dnf install bubblewrap` on Fedora)")
