"""``python -m e2e.run``: start a real Airflow, run every scenario, tear everything down.

Prints one PASS/FAIL line per scenario with its time, then the total. Exit status 1 if any failed.
Every process started runs in its own process group, ended on success, failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import time
import traceback
from types import FrameType

from e2e.deployment import REPO, Deployment
from e2e.scenarios import EXAMPLES, SCENARIOS, prepare

API_KEY = "sk-e2e-5a7c1f93d2b84e06"
SCENARIO_DAGS = ["e2e_reschedule_sensor", "e2e_mapped_export", "e2e_wrong_key", "example_events_surge"]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    # Also when started in the background, where a shell ignores SIGINT for its children.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    dag_files = sorted((REPO / "example_dags").glob("*.py")) + sorted((REPO / "e2e" / "dags").glob("*.py"))
    dep = Deployment(dag_files, API_KEY)
    failed = 0
    try:
        dep.start()
        dep.wait_for_dags([*EXAMPLES, *SCENARIO_DAGS])
        prepare(dep)
        up = time.monotonic() - started
        emulators = ", ".join(f"{name} on {url}" for name, url in dep.emulator_urls.items())
        print(f"Airflow up on {dep.api_url}, {emulators} ({up:.1f} s)", flush=True)
        for scenario in SCENARIOS:
            began = time.monotonic()
            try:
                summary = scenario(dep)
            except Exception:
                failed += 1
                print(f"FAIL {scenario.__name__} ({time.monotonic() - began:.1f} s)", flush=True)
                traceback.print_exc(limit=4, file=sys.stdout)
            else:
                note = f": {summary}" if summary else ""
                print(f"PASS {scenario.__name__} ({time.monotonic() - began:.1f} s){note}", flush=True)
    except BaseException:
        failed += 1
        print("ABORTED: the deployment could not be brought up or was interrupted")
        traceback.print_exc(limit=6, file=sys.stdout)
    finally:
        dep.stop()
        still = dep.listening()
        print(f"Stopped every process group; ports still listening: {still or 'none'}")
        failed += bool(still)
    verdict = "all passed" if not failed else f"{failed} failed"
    print(f"e2e: {len(SCENARIOS)} scenarios, {verdict}, total {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
