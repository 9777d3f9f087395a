"""``nap-compose doctor``'s judgement: what a host and the store must offer the product, as pure checks.

The facts (what a host's ``ip``, ``/proc``, clock, Docker daemon and SSH server said; what the store
answered) are gathered elsewhere (adapters/doctor_facts.py) into the frozen values of ``facts``;
``judge`` turns them into one ``Verdict`` per check, each with the fix when it is not ok. Nothing
here talks to a host.
"""

from napcompose.doctor.facts import HostFacts, Link, MemberHealth, ResolverFacts, StoreFacts
from napcompose.doctor.judge import judge_host, judge_store
from napcompose.doctor.verdicts import CHECKS, Level, Verdict, exit_status

__all__ = ["CHECKS", "HostFacts", "Level", "Link", "MemberHealth", "ResolverFacts", "StoreFacts", "Verdict",
           "exit_status", "judge_host", "judge_store"]
