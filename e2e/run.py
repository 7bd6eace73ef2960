"""``python -m e2e.run``: start a real Airflow, run every scenario, tear everything down.

Prints one PASS/FAIL line per scenario with its time, then the total. Exit status 1 if any failed.
Every process started runs in its own process group, ended on success, failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TypeVar

from e2e.deployment import REPO, Deployment
from e2e.scenarios import EXAMPLES, SCENARIOS, prepare

API_KEY = "sk-e2e-5a7c1f93d2b84e06"
SCENARIO_DAGS = ["e2e_reschedule_sensor", "e2e_mapped_export", "e2e_wrong_key", "example_events_surge"]
D = TypeVar("D", bound=Deployment)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:300]}" if lines else type(error).__name__


def run_suite(
    name: str,
    dep: D,
    bring_up: Callable[[], str],
    scenarios: Sequence[Callable[[D], str | None]],
    show_processes: bool = False,
) -> int:
    """
    Bring ``dep`` up, run each scenario, always tear it down; the exit status (1 if anything failed).

    :param bring_up: starts the deployment and returns what its "up" line says about it.
    :param show_processes: print the process list (component, pid, port) before the teardown.
    """
    # Also when started in the background, where a shell ignores SIGINT for its children.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    failed = 0
    try:
        described = bring_up()
        print(f"{described} ({time.monotonic() - started:.1f} s)", flush=True)
        for scenario in scenarios:
            began = time.monotonic()
            try:
                summary = scenario(dep)
            except Exception as error:
                failed += 1
                took = time.monotonic() - began
                print(f"FAIL {scenario.__name__} ({took:.1f} s): {_first_line(error)}", flush=True)
                traceback.print_exc(limit=4, file=sys.stdout)
            else:
                note = f": {summary}" if summary else ""
                print(f"PASS {scenario.__name__} ({time.monotonic() - began:.1f} s){note}", flush=True)
    except BaseException:
        failed += 1
        print("ABORTED: the deployment could not be brought up or was interrupted")
        traceback.print_exc(limit=6, file=sys.stdout)
    finally:
        if show_processes:
            print("Processes of the deployment (component, pid, port):")
            for component, pid, port in dep.process_list():
                print(f"      {component:<16} {pid:>7}  {port or '-'}")
        dep.stop()
        still, left = dep.listening(), dep.leftovers()
        print(
            f"Stopped every process group; processes left: {', '.join(left) or 'none'}; "
            f"ports still listening: {still or 'none'}"
        )
        failed += bool(still or left)
    verdict = "all passed" if not failed else f"{failed} failed"
    print(f"{name}: {len(scenarios)} scenarios, {verdict}, total {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


def main() -> int:
    dag_files = sorted((REPO / "example_dags").glob("*.py")) + sorted((REPO / "e2e" / "dags").glob("*.py"))
    dep = Deployment(dag_files, API_KEY)

    def bring_up() -> str:
        dep.start()
        dep.wait_for_dags([*EXAMPLES, *SCENARIO_DAGS])
        prepare(dep)
        emulators = ", ".join(f"{name} on {url}" for name, url in dep.emulator_urls.items())
        return f"Airflow up on {dep.api_url}, {emulators}"

    return run_suite("e2e", dep, bring_up, SCENARIOS)


if __name__ == "__main__":
    sys.exit(main())
