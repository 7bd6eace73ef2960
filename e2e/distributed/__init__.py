"""End-to-end suite on a distributed deployment (``make e2e-distributed``).

- :mod:`e2e.distributed.deployment`: PostgreSQL, Redis, moto's S3, the api-server, scheduler and
  dag-processor, two triggerers and two Celery workers without database access, on loopback.
- :mod:`e2e.distributed.scenarios`: exports to S3 over both workers, triggerers killed and
  stopped under a deferred sensor and an asset watcher, a worker killed mid-export, and where
  the keys are not.
- :mod:`e2e.distributed.run`: runs them with :func:`e2e.run.run_suite`, prints the process list.
- :mod:`e2e.distributed.hostname`: names each triggerer and worker, as separate hosts would be.
- ``e2e/distributed/dags/``: its DAGs, served beside ``example_dags/example_events_surge.py``.
"""
