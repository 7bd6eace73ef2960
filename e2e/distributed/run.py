"""``python -m e2e.distributed.run``: start the distributed deployment, run every scenario, tear it down.

``E2E_SIGSTOP_REPEATS=N`` runs the SIGSTOP takeover scenario N times (default 1) and counts duplicates.
"""

from __future__ import annotations

import sys

from e2e.deployment import REPO
from e2e.distributed.deployment import DistributedDeployment
from e2e.distributed.scenarios import DAG_IDS, SCENARIOS
from e2e.run import API_KEY, run_suite


def main() -> int:
    dag_files = [REPO / "example_dags" / "example_events_surge.py"]
    dag_files += sorted((REPO / "e2e" / "distributed" / "dags").glob("*.py"))
    dep = DistributedDeployment(dag_files, API_KEY)

    def bring_up() -> str:
        dep.start()
        dep.wait_for_dags(DAG_IDS)
        return f"Airflow up on {dep.api_url}: PostgreSQL, Redis, S3, 2 triggerers, 2 Celery workers"

    return run_suite("e2e-distributed", dep, bring_up, SCENARIOS, show_processes=True)


if __name__ == "__main__":
    sys.exit(main())
