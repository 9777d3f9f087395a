"""Execute: runs a Plan's typed actions against the ports, and owns everything a run changes.

- ``state.py``: ``Core`` (the ports and the progress-line helpers) and ``RunState``, the one place
  that declares what a run's handlers share (``live``, ``allocations``, ``down``, their locks).
- ``executor.py``: ``HANDLERS`` (action type → handler) and ``run_plan``, which runs the plan's
  waves with ``parallel.run_waves``.
- One module per domain of handlers: ``containers``, ``addresses``, ``images``, ``files``, ``hosts``,
  ``names``, ``readiness``, ``network`` (host blocks, each host's network and names resolver),
  ``rolling`` (with ``gate``, ``batches`` and ``kept``, the pieces a rolling update is made of).

A handler is a plain function ``(state: RunState, action) -> Optional[List[Outcome]]``: it reports its
steps through ``state.core.step``, raises a NapComposeError when its action fails, and returns the
outcomes it reports itself (None: the executor reports one outcome for the action). To add one, add
the action type to ``planner.ACTION_TYPES`` and its handler to ``HANDLERS``; a run refuses to start
(TypeError at import) while an action type has no handler.
"""
