"""
A distributed Airflow on loopback ports: PostgreSQL, Redis, moto's S3, two triggerers, two Celery workers.

One machine stands in for many. Every process starts in a process group of its own, on free
loopback ports, and teardown ends each group and everything below it (see
:class:`e2e.deployment.Deployment`, whose REST client, emulators and teardown this reuses).

The Celery workers reach Airflow only through its Execution API and Redis: each has its own
``AIRFLOW_HOME``, its own log-server port, no Fernet key and a metadata-DB URL that cannot
connect, so whatever they need must come through the API. Connections are created through the
REST API (so stored, encrypted, in the metadata DB), never in any component's environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from e2e.deployment import REPO, SURGE_CONN_ID, Deployment, wait_for

ROOT = REPO / ".e2e-distributed"
BUCKET = "e2e-exports"
AWS_CONN_ID = "aws_s3"
SLOW_CONN_ID = "events_slow"
# moto takes any key pair; this one stands for a real secret, which must appear nowhere.
S3_ACCESS_KEY = "AKIAE2EDISTRIBUTED01"
S3_SECRET_KEY = "e2e-s3-secret-9c41d7a2f0b36e85"
TRIGGERERS = ("triggerer-1", "triggerer-2")
WORKERS = ("worker-a", "worker-b")
SERVERS = ("api-server", "scheduler", "dag-processor")
SERVICES = ("postgres", "redis", "s3")
# The slow emulator answers after 400 ms: an export from it lasts long enough to be killed midway.
SLOW_LATENCY_MS = 400
# Settings each triggerer's takeover time depends on (the other takes over ~7 s after a SIGKILL).
TRIGGERER_SETTINGS = {"JOB_HEARTBEAT_SEC": 2, "TRIGGERER_HEALTH_CHECK_THRESHOLD": 10}
TASK_HEARTBEAT_TIMEOUT = 20


def postgres_bin() -> Path:
    """Debian's PostgreSQL binaries, the newest major version installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError(
            "no PostgreSQL server found: run make e2e-distributed, or apt-get install postgresql"
        )
    return found[-1].parent


class DistributedDeployment(Deployment):
    """
    Airflow with the CeleryExecutor on PostgreSQL and Redis, two triggerers, two workers, and S3.

    :param dag_files: DAG files to serve, linked into one DAGs folder (every component reads it).
    :param api_key: the key the emulators accept and the connections hold.
    """

    emulators: ClassVar[dict[str, list[str]]] = {
        "emulator": [],
        "surge-emulator": ["--no-background"],
        "slow-emulator": ["--latency-ms", str(SLOW_LATENCY_MS)],
    }
    # worker_logs and trigger_logs are the servers' settings, which none of them serves on here.
    port_names: ClassVar[tuple[str, ...]] = (
        "api", "worker_logs", "trigger_logs", "postgres", "redis", "s3",
        *(f"{name}-logs" for name in (*WORKERS, *TRIGGERERS)),
    )  # fmt: skip
    component_ports: ClassVar[dict[str, str]] = {
        "api-server": "api",
        "postgres": "postgres",
        "redis": "redis",
        "s3": "s3",
        **{name: f"{name}-logs" for name in (*WORKERS, *TRIGGERERS)},
    }

    def __init__(self, dag_files: list[Path], api_key: str) -> None:
        # PostgreSQL runs as its own user, which may not reach into the checkout: a folder in /tmp.
        self.pg_root = Path(tempfile.mkdtemp(prefix="e2e-postgres-"))
        super().__init__(dag_files, api_key, root=ROOT)
        self.s3_url = f"http://127.0.0.1:{self.ports['s3']}"
        self.component_envs = {name: self._component_env(name) for name in (*TRIGGERERS, *WORKERS)}

    # -- settings ------------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        # Only asset-triggered and manual runs exist: every DAG served has no time schedule.
        del env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"]
        redis = f"redis://127.0.0.1:{self.ports['redis']}"
        settings: dict[str, object] = {
            "CORE__EXECUTOR": "CeleryExecutor",
            "DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://airflow@127.0.0.1:{self.ports['postgres']}/airflow",
            "CORE__PARALLELISM": 8,
            # Names triggerers and workers (TaskInstance.hostname, the triggerer's job) by E2E_HOSTNAME.
            "CORE__HOSTNAME_CALLABLE": "e2e.distributed.hostname.hostname",
            "CELERY__BROKER_URL": f"{redis}/0",
            # Results in Redis too: the default, the metadata DB, would need the workers to reach it.
            "CELERY__RESULT_BACKEND": f"{redis}/1",
            # One task at a time each: on 2 cores, more would starve the triggerers' heartbeats.
            "CELERY__WORKER_CONCURRENCY": 1,
            "SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": TASK_HEARTBEAT_TIMEOUT,
            "SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": 5,
            **{f"TRIGGERER__{key}": value for key, value in TRIGGERER_SETTINGS.items()},
        }
        env.update({f"AIRFLOW__{key}": str(value) for key, value in settings.items()})
        env["EVENTS_EXPORT_DIR"] = str(self.root / "server-exports")
        return env

    def _component_env(self, name: str) -> dict[str, str]:
        env = dict(self._env)
        env["E2E_HOSTNAME"] = name
        if name in TRIGGERERS:
            env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(self.ports[f"{name}-logs"])
            return env
        home = self.root / name
        # A worker on a host of its own: its own home and disk, no Fernet key, and a metadata DB
        # it cannot reach (port 1 refuses at once): tasks get what they need through the API.
        del env["AIRFLOW__CORE__FERNET_KEY"]
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://nobody@127.0.0.1:1/unreachable",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.ports[f"{name}-logs"]),
                "EVENTS_EXPORT_DIR": str(home / "exports"),
            }
        )
        return env

    def home_of(self, component: str) -> Path:
        """The AIRFLOW_HOME a component runs with."""
        return Path(self.component_envs.get(component, self._env)["AIRFLOW_HOME"])

    # -- start ---------------------------------------------------------------------------------------

    def _prepare_folders(self) -> None:
        super()._prepare_folders()
        for name in WORKERS:
            (self.root / name).mkdir()

    def start(self) -> None:
        """
        Start the services, migrate, start Airflow; the triggerers last, once the connections exist.

        The workers need no database, so they start while it is migrated.
        """
        self._prepare_folders()
        self._start_postgres()
        self._spawn("redis", self._redis_command(), cwd=self.root)
        self._spawn("s3", [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1",
                           "-p", str(self.ports["s3"])])  # fmt: skip
        for name in WORKERS:
            self.start_component(name)
        for name in self.emulators:
            self._start_emulator(name)
        wait_for("PostgreSQL to accept connections", self._create_database, timeout=60)
        airflow = self.migrate()
        for component in SERVERS:
            self._spawn(component, [airflow, component])
        wait_for("moto's S3", self._create_bucket, timeout=60)
        self.token = wait_for("the API server's login", self._token, timeout=120)
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        self._add_connections()
        for name in TRIGGERERS:
            self.start_component(name)
        wait_for("both triggerers' heartbeats", lambda: self.alive_triggerers() == set(TRIGGERERS), 120)

    def alive_triggerers(self) -> set[str]:
        """The hostnames of the triggerers whose heartbeat is recent."""
        params = {"job_type": "TriggererJob", "is_alive": "true", "limit": 100}
        return {str(job["hostname"]) for job in self.api("GET", "/jobs", params=params)["jobs"]}

    def start_component(self, component: str) -> None:
        """Start a component again (or for the first time): triggerers and workers with their own env."""
        airflow = str(Path(sys.executable).with_name("airflow"))
        if component in WORKERS:
            command = [airflow, "celery", "worker", "--celery-hostname", f"{component}@%h"]
            self._spawn(component, command, env=self.component_envs[component])
        elif component in TRIGGERERS:
            self._spawn(component, [airflow, "triggerer"], env=self.component_envs[component])
        else:
            super().start_component(component)

    @contextlib.contextmanager
    def killed(self, component: str) -> Iterator[None]:
        """SIGKILL a component and all below it, as a host that dies; start it again on leaving."""
        self.send_signal(component, signal.SIGKILL)
        self.processes.pop(component).wait(timeout=10)
        try:
            yield
        finally:
            self.start_component(component)

    def _start_postgres(self) -> None:
        binaries, data, sockets = postgres_bin(), self.pg_root / "data", self.pg_root / "sockets"
        sockets.mkdir()
        self.pg_root.chmod(0o755)
        shutil.chown(self.pg_root, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
        # initdb and postgres refuse to run as root: as the postgres user, on loopback, trusted.
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"}
        initdb = [str(binaries / "initdb"), "-D", str(data), "-U", "airflow", "--auth=trust", "--no-sync"]
        init = subprocess.run(
            initdb, user="postgres", cwd=self.pg_root, env=env, capture_output=True, text=True
        )
        if init.returncode:
            raise RuntimeError(f"initdb failed:\n{init.stdout[-2000:]}{init.stderr[-2000:]}")
        settings = {
            "port": self.ports["postgres"],
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": sockets,
            # A throwaway cluster: durability only costs time on a 2-core machine.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": 200,
        }
        command = [str(binaries / "postgres"), "-D", str(data)]
        command += [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        self._spawn("postgres", command, env=env, user="postgres", cwd=self.pg_root)

    def _redis_command(self) -> list[str]:
        redis = shutil.which("redis-server")
        if redis is None:
            raise RuntimeError(
                "no redis-server found: run make e2e-distributed, or apt-get install redis-server"
            )
        # In memory only, on loopback; no snapshot file.
        return [redis, "--port", str(self.ports["redis"]), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.root)]  # fmt: skip

    def _create_database(self) -> bool:
        self._check_alive()
        with contextlib.closing(self.sql_connection("postgres")) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'")
                if cursor.fetchone() is None:
                    cursor.execute("CREATE DATABASE airflow")
        return True

    def sql_connection(self, database: str = "airflow") -> Any:
        """A psycopg2 connection to the metadata DB, as its operator would open one."""
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1", port=self.ports["postgres"], user="airflow", dbname=database, connect_timeout=5
        )

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of one query on the metadata DB."""
        with contextlib.closing(self.sql_connection()) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return list(cursor.fetchall())

    def s3(self) -> Any:
        """A boto3 S3 client on moto's server, with the connection's key pair."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
        )

    def _create_bucket(self) -> bool:
        self._check_alive()
        self.s3().create_bucket(Bucket=BUCKET)
        return True

    def _add_connections(self) -> None:
        """Every connection through the REST API, before any triggerer polls with one."""
        self.add_connection("events_analytics_default", self.api_key)
        self.add_connection(SURGE_CONN_ID, self.api_key, host=self.emulator_urls["surge-emulator"])
        self.add_connection(SLOW_CONN_ID, self.api_key, host=self.emulator_urls["slow-emulator"])
        aws = {
            "connection_id": AWS_CONN_ID,
            "conn_type": "aws",
            "login": S3_ACCESS_KEY,
            "password": S3_SECRET_KEY,
            "extra": json.dumps({"endpoint_url": self.s3_url, "region_name": "us-east-1"}),
        }
        self.api("POST", "/connections", expect=201, json=aws)

    # -- looking around ------------------------------------------------------------------------------

    def trigger_owner(self, trigger_id: int) -> str | None:
        """The hostname of the triggerer a trigger is assigned to (None: unassigned)."""
        rows = self.sql(
            "SELECT j.hostname FROM trigger t JOIN job j ON j.id = t.triggerer_id WHERE t.id = %s", trigger_id
        )
        return str(rows[0][0]) if rows else None

    def objects(self, prefix: str) -> dict[str, bytes]:
        """Every object under ``prefix`` in the bucket, with its content."""
        client = self.s3()
        listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return {
            item["Key"]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listing
        }

    def open_uploads(self, prefix: str) -> int:
        """Multipart uploads begun under ``prefix`` and never completed (no object: nothing to read)."""
        return len(self.s3().list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", []))

    def task_log_file(self, component: str, dag_id: str, run_id: str, task_id: str, try_number: int = 1,
                      map_index: int = -1) -> Path:  # fmt: skip
        """A task's log file on the worker that ran it (a worker's disk is its own)."""
        folder = (
            self.home_of(component) / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        )
        if map_index >= 0:
            folder /= f"map_index={map_index}"
        return folder / f"attempt={try_number}.log"

    def log_files(self) -> Iterator[Path]:
        """Every file any component logged to: component logs, and each home's task and trigger logs."""
        yield from (path for path in self.logs.rglob("*") if path.is_file())
        for home in {self.home, *(self.home_of(name) for name in WORKERS)}:
            yield from (path for path in (home / "logs").rglob("*") if path.is_file())

    def pg_dump(self) -> str:
        """The metadata DB as plain SQL."""
        dump = subprocess.run(
            [str(postgres_bin() / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.ports["postgres"]),
             "-U", "airflow", "airflow"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return dump.stdout

    def stop_order(self) -> list[list[str]]:
        """Airflow first, while the services it talks to are still there to say goodbye to."""
        return [[name for name in self.processes if name not in SERVICES], list(SERVICES)]

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.pg_root, ignore_errors=True)
