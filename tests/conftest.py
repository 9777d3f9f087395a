"""Hypothesis runs the same examples on every run (a gate must not fail on a draw it never made
before); ``NAP_HYPOTHESIS=explore`` draws new ones, to look for counterexamples on purpose."""

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("NAP_HYPOTHESIS") == "explore" else "repeatable")
