"""End-to-end suite: a real Airflow deployment driven as its operator would (``make e2e``).

- :mod:`e2e.deployment`: :class:`~e2e.deployment.Deployment` starts the api-server, scheduler,
  dag-processor, triggerer and the emulator, each in its own process group, on free loopback
  ports under ``.e2e/``; it holds the REST client (JWT), triggers runs with or without a logical
  date, waits for run and task states, fetches task logs, stops/starts/restarts one component,
  and feeds the emulator through its control endpoint.
- :mod:`e2e.scenarios`: one function per scenario, listed in ``SCENARIOS`` in the order they run.
- :mod:`e2e.watcher`: the asset-watcher scenarios, ``example_events_surge`` started by crossings.
- :mod:`e2e.run`: runs them, one PASS/FAIL line each with its time, and always tears down
  (:func:`~e2e.run.run_suite`, shared with the distributed suite).
- ``e2e/dags/``: scenario DAGs of our own, served beside ``example_dags/``; :mod:`e2e.dag_parts`
  holds what they share.
- :mod:`e2e.distributed`: the same on a distributed deployment (``make e2e-distributed``):
  PostgreSQL, Redis, S3, two triggerers and two Celery workers without database access.
"""
