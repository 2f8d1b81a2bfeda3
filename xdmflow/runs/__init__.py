"""The run lifecycle: queue → claim → worker → spec → pipeline → commit → finalize | recover → report.

``queue.py`` creates runs (on demand, scheduled, re-triggered, retried) as queued rows;
``claim.py`` is the claim a worker holds on a run (passed down to the lake commit);
``worker.py`` the loop that claims, heartbeats, executes and recovers runs;
``execute.py`` builds a run's :class:`~xdmflow.pipeline.partition.RunSpec`, runs the pipeline,
finalises the bookkeeping atomically and recovers runs of dead workers;
``report.py`` the run object of the Flow Service; ``states.py`` the one state machine of a run.
"""
