"""The reconciler: keeps the projects that opted in (``up --keep``) as declared, with nobody at the keyboard.

What it decides is pure and lives here: the records it keeps in the store (``records``: each kept
project's files as ``up`` read them, and a bounded log of what the reconciler did and why), the
leader's lease (``lease``: one reconciler acts, every step it takes is fenced by the lease), the
judgement of a lost host (``hosts``: unanswered for a grace time while others answer), and one pass
over a kept project (``reconciler``: observe, the same planner and executor as ``up``, under the
project's lock, never while a host is only suspect). Threads, clocks and event streams are the
command line's (``cli/watch_cmd.py``) and the adapters'.
"""
