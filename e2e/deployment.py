"""A real Airflow deployment on loopback ports: four components, the emulator, and a REST client.

Every process starts in a process group of its own and :meth:`Deployment.stop` ends each group
(SIGTERM, then SIGKILL): the scheduler's executor workers and task supervisors live in its group.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
ROOT = REPO / ".e2e"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# Two emulators: the shared one with generated counts, and one serving only recorded events for the
# asset watcher, whose threshold on "the last hours" must not depend on the hour of day.
EMULATORS = {"emulator": [], "surge-emulator": ["--no-background"]}
SURGE_CONN_ID = "events_surge"
# example_events_surge's knobs (EVENTS_SURGE_*): a check every 2 s keeps the watcher scenarios short.
SURGE_SETTINGS = {"THRESHOLD": 100, "HOURS": 3, "POKE_INTERVAL": 2}
FINISHED_RUN = {"success", "failed"}
T = TypeVar("T")


def free_port() -> int:
    """A port free on 127.0.0.1 now (the kernel picks it; it stays free until someone binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.5) -> T:
    """Call ``probe`` until it returns something truthy; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(requests.RequestException, OSError, ValueError):
            result = probe()
            if result:
                return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Deployment:
    """
    Airflow (api-server, scheduler, dag-processor, triggerer; SQLite, LocalExecutor) and the emulator.

    :param dag_files: DAG files to serve, linked into one DAGs folder.
    :param api_key: the key the emulator accepts and the default connection holds.
    :param root: the scratch folder, emptied at start.
    """

    #: Emulators to start: name -> extra command-line arguments.
    emulators: ClassVar[Mapping[str, list[str]]] = EMULATORS
    #: The ports to pick, by name: :attr:`ports` holds them.
    port_names: ClassVar[tuple[str, ...]] = ("api", "worker_logs", "trigger_logs")
    #: Which of :attr:`ports` each component listens on, for the process list.
    component_ports: ClassVar[Mapping[str, str]] = {
        "api-server": "api",
        "scheduler": "worker_logs",
        "triggerer": "trigger_logs",
    }

    def __init__(self, dag_files: list[Path], api_key: str, root: Path = ROOT) -> None:
        self.api_key = api_key
        self.root = root
        self.home, self.logs, self.exports = root / "home", root / "logs", root / "exports"
        self.dags = root / "dags"
        self.dag_files = dag_files
        self.ports = {name: free_port() for name in self.port_names}
        self.api_url = f"http://127.0.0.1:{self.ports['api']}"
        self.emulator_urls: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # Every process group ever started, stopped or not: teardown checks that none is left.
        self.started: list[tuple[str, int]] = []
        self._seen: list[psutil.Process] = []  # processes found below them when signalled
        self.triggered: list[tuple[str, str]] = []
        self.password = secrets.token_urlsafe(12)
        self.token = ""
        self.http = requests.Session()
        self._env = self._environment()

    # -- setup ---------------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        # Nothing of the caller's Airflow settings (the Makefile's unit-test mode included) leaks in.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EVENTS_"))}
        api = self.api_url
        settings = {
            "CORE__DAGS_FOLDER": self.dags,
            "CORE__EXECUTOR": "LocalExecutor",
            "CORE__PARALLELISM": 4,
            "CORE__LOAD_EXAMPLES": False,
            "CORE__DAGS_ARE_PAUSED_AT_CREATION": False,
            "CORE__TEST_CONNECTION": "Enabled",
            "CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": self.home / "passwords.json",
            "DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "API__HOST": "127.0.0.1",
            "API__PORT": self.ports["api"],
            "API__BASE_URL": api,
            "API__SECRET_KEY": secrets.token_hex(16),
            "API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "LOGGING__WORKER_LOG_SERVER_PORT": self.ports["worker_logs"],
            "LOGGING__TRIGGER_LOG_SERVER_PORT": self.ports["trigger_logs"],
            # Runs come from the scenarios only, never from the schedule.
            "SCHEDULER__USE_JOB_SCHEDULE": False,
            "DAG_PROCESSOR__REFRESH_INTERVAL": 5,
        }
        env.update({f"AIRFLOW__{key}": str(value) for key, value in settings.items()})
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "PYTHONPATH": str(REPO),
                "EVENTS_EXPORT_DIR": str(self.exports),
                "EVENTS_GATED_POKE_INTERVAL": "2",
                "EVENTS_GATED_TIMEOUT": "300",
                "EVENTS_SURGE_CONN_ID": SURGE_CONN_ID,
                **{f"EVENTS_SURGE_{name}": str(value) for name, value in SURGE_SETTINGS.items()},
            }
        )
        return env

    def _prepare_folders(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        for folder in (self.home, self.logs, self.exports, self.dags):
            folder.mkdir(parents=True)
        for path in self.dag_files:
            (self.dags / path.name).symlink_to(path)
        (self.home / "passwords.json").write_text(json.dumps({"admin": self.password}))

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str] | None = None, **popen: Any
    ) -> subprocess.Popen[bytes]:
        """Start ``command`` in a process group of its own, logging to ``logs/<name>.log``."""
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            env=self._env if env is None else env,
            cwd=popen.pop("cwd", REPO),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,
        )
        log.close()
        self.processes[name] = process
        self.started.append((name, process.pid))
        return process

    def start(self) -> None:
        """Migrate the database, start the emulator and the four components, log in, wait for DAGs."""
        self._prepare_folders()
        airflow = self.migrate()
        for name in self.emulators:
            self._start_emulator(name)
        # In the environment, not the database: the watcher polls as soon as its DAG is parsed.
        surge = {"conn_type": "events_analytics", "host": self.surge_url, "password": self.api_key}
        self._env[f"AIRFLOW_CONN_{SURGE_CONN_ID.upper()}"] = json.dumps(surge)
        for component in COMPONENTS:
            self._spawn(component, [airflow, component])
        self.token = wait_for("the API server's login", self._token, timeout=120)
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def migrate(self) -> str:
        """``airflow db migrate`` on the deployment's database; the ``airflow`` command's path."""
        airflow = str(Path(sys.executable).with_name("airflow"))
        migrate = subprocess.run(
            [airflow, "db", "migrate"], env=self._env, cwd=REPO, capture_output=True, text=True
        )
        if migrate.returncode:
            raise RuntimeError(
                f"airflow db migrate failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-2000:]}"
            )
        return airflow

    @property
    def emulator_url(self) -> str:
        return self.emulator_urls.get("emulator", "")

    @property
    def surge_url(self) -> str:
        return self.emulator_urls.get("surge-emulator", "")

    def _start_emulator(self, name: str, port: int = 0) -> None:
        port_file = self.root / f"{name}.port"
        port_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "airflow_provider_events.emulator", "--port-file", str(port_file)]
        command += ["--port", str(port), "--api-key", self.api_key, "--verbose", *self.emulators[name]]
        self._spawn(name, command)
        bound = wait_for(f"the {name}'s port", lambda: port_file.read_text().strip(), timeout=30, every=0.1)
        self.emulator_urls[name] = f"http://127.0.0.1:{bound}"

    def _token(self) -> str | None:
        self._check_alive()
        body = {"username": "admin", "password": self.password}
        answer = requests.post(f"{self.api_url}/auth/token", json=body, timeout=10)
        return answer.json()["access_token"] if answer.status_code in (200, 201) else None

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    # -- teardown ------------------------------------------------------------------------------------

    def stop(self) -> None:
        """End every process this deployment started: SIGTERM, then SIGKILL after 10 s."""
        for names in self.stop_order():
            self._stop_together([name for name in names if name in self.processes])
        self._kill_seen()
        self.processes.clear()
        self.http.close()

    def stop_order(self) -> list[list[str]]:
        """The components to stop, a list of those stopped together at a time: here all at once."""
        return [list(self.processes)]

    def _stop_together(self, names: list[str]) -> None:
        for name in names:
            self.send_signal(name, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name in names:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.processes[name].wait(timeout=max(0.1, deadline - time.monotonic()))
        for name in names:
            # SIGTERM alone can leave the scheduler's group running: the group goes, whatever is in it.
            self.send_signal(name, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.processes[name].wait(timeout=5)

    def send_signal(self, component: str, signum: int) -> None:
        """
        Send ``signum`` to a component's process group and to every process below it.

        Airflow gives each task and trigger runner a process group of its own: a machine that
        dies, or stalls, takes them along, so the signal reaches them too.
        """
        process = self.processes[component]
        members: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(process.pid)
            members = [root, *root.children(recursive=True)]
        self._seen.extend(members)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        for member in members:  # those in groups of their own; the group's own got it once already
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(member.pid) != process.pid:
                    member.send_signal(signum)

    def _kill_seen(self) -> None:
        for member in self._seen:
            with contextlib.suppress(psutil.Error):
                if member.is_running():
                    member.kill()

    def stop_component(self, component: str, signum: int = signal.SIGTERM) -> None:
        """End one component (``"triggerer"``, ``"emulator"``, ...): ``signum``, then KILL after 20 s."""
        self.send_signal(component, signum)
        process = self.processes[component]
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.send_signal(component, signal.SIGKILL)
            process.wait(timeout=5)
        del self.processes[component]

    def start_component(self, component: str) -> None:
        """
        Start a stopped component again. The emulator comes back on its old port (an outage's end),
        without the events recorded before: they lived in the stopped process.
        """
        if component in self.emulators:
            self._start_emulator(component, port=int(self.emulator_urls[component].rsplit(":", 1)[1]))
        else:
            self._spawn(component, [str(Path(sys.executable).with_name("airflow")), component])

    def configure(self, **settings: object) -> None:
        """Change ``AIRFLOW__SECTION__KEY`` settings for the components started from now on."""
        self._env.update({f"AIRFLOW__{key.upper()}": str(value) for key, value in settings.items()})

    def restart(self, component: str) -> None:
        """Stop one component's process group and start it again (e.g. the triggerer)."""
        self.stop_component(component)
        self.start_component(component)

    def listening(self) -> list[int]:
        """The deployment's ports that still accept connections (empty once it is stopped)."""
        ports = [*self.ports.values()]
        ports += [int(url.rsplit(":", 1)[1]) for url in self.emulator_urls.values()]
        open_ports = []
        for port in ports:
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    open_ports.append(port)
        return open_ports

    def leftovers(self) -> list[str]:
        """The processes started, or seen below them, still running (empty once it is stopped)."""
        groups = {pgid: name for name, pgid in self.started}
        seen = {member.pid for member in self._seen}
        alive = []
        for process in psutil.process_iter():
            # A zombie has ended; it waits only for whoever adopted it to collect its status.
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                if (pgid := os.getpgid(process.pid)) in groups:
                    alive.append(f"{groups[pgid]} (pid {process.pid}, group {pgid})")
                elif process.pid in seen and any(process == member for member in self._seen):
                    alive.append(f"pid {process.pid}")
        return alive

    def process_list(self) -> list[tuple[str, int, int | None]]:
        """``(component, pid, port)`` of each process running now; the port it serves, if any."""
        ports = {name: self.ports[port] for name, port in self.component_ports.items()}
        ports.update({name: int(url.rsplit(":", 1)[1]) for name, url in self.emulator_urls.items()})
        return [(name, process.pid, ports.get(name)) for name, process in self.processes.items()]

    # -- REST API ------------------------------------------------------------------------------------

    def api(self, method: str, path: str, expect: int | tuple[int, ...] = 200, **kwargs: Any) -> Any:
        """Call ``/api/v2`` (or ``/ui``) and return the JSON body; AssertionError on another status."""
        prefix = "" if path.startswith("/ui/") else "/api/v2"
        answer = self.http.request(method, f"{self.api_url}{prefix}{path}", timeout=30, **kwargs)
        allowed = (expect,) if isinstance(expect, int) else expect
        assert answer.status_code in allowed, f"{method} {path}: {answer.status_code} {answer.text[:500]}"
        return answer.json() if answer.content else None

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        def parsed() -> bool:
            self._check_alive()
            errors = self.api("GET", "/importErrors")["import_errors"]
            assert not errors, f"import errors: {errors}"
            found = {dag["dag_id"] for dag in self.api("GET", "/dags", params={"limit": 100})["dags"]}
            return set(dag_ids) <= found

        wait_for(f"the DAGs {dag_ids} to be parsed", parsed, timeout)

    def trigger(self, dag_id: str, logical_date: str | None, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run through the REST API; ``logical_date=None`` makes a run without one."""
        body = {"logical_date": logical_date, "conf": conf or {}}
        run_id = str(self.api("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])
        self.triggered.append((dag_id, run_id))
        return run_id

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 180) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            self._check_alive()
            run = self.run(dag_id, run_id)
            return run if run["state"] in FINISHED_RUN else None

        return wait_for(f"run {run_id} of {dag_id} to finish", finished, timeout)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return list(self.api("GET", path, params={"limit": 100})["task_instances"])

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float = 120
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            self._check_alive()
            for ti in self.task_instances(dag_id, run_id):
                if ti["task_id"] == task_id and ti["state"] in states:
                    return ti
            return None

        return wait_for(f"{dag_id}.{task_id} in {run_id} to be {sorted(states)}", reached, timeout)

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The task's log as the UI shows it, fetched through the REST API, one JSON entry a line."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        body = self.api("GET", path, params={"full_content": "true", "map_index": map_index})
        content = body["content"]
        return "\n".join(entry if isinstance(entry, str) else json.dumps(entry) for entry in content)

    def add_connection(self, conn_id: str, password: str, **fields: Any) -> None:
        body = {"connection_id": conn_id, "conn_type": "events_analytics", "host": self.emulator_url}
        self.api("POST", "/connections", expect=201, json={**body, "password": password, **fields})

    # -- emulator ------------------------------------------------------------------------------------

    def record_events(
        self, event: str, count: int, at: str | None = None, url: str | None = None
    ) -> dict[str, Any]:
        """Add events (or take them back: ``count < 0``) through an emulator's control endpoint."""
        answer = requests.post(
            f"{url or self.emulator_url}/_emulator/events",
            json={"event": event, "count": count, "at": at},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def series(
        self, event: str, length: int, unit: str, ending_at: str, url: str | None = None
    ) -> list[dict[str, Any]]:
        """What an emulator's API answers for this window (at most 100 buckets)."""
        answer = requests.get(
            f"{url or self.emulator_url}/events/data_series",
            params={"event": event, "length": str(length), "unit": unit, "ending_at": ending_at},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return list(answer.json()["data"])

    def emulator_statuses(self, name: str = "emulator") -> list[int]:
        """The status of every API request an emulator answered so far, from its --verbose log."""
        lines = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()
        return [int(line.rsplit(" ", 1)[1]) for line in lines if '"GET /events/' in line]

    def log_files(self) -> Iterator[Path]:
        """Every file the deployment logged to: task and component logs."""
        for folder in (self.home / "logs", self.logs):
            yield from (path for path in folder.rglob("*") if path.is_file())
