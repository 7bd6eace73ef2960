"""Every Python example of README.md and docs/*.md runs against the emulator, or says why not.

How each kind of block runs is in ``docs_examples.py``. The blocks run with the default connection
pointing at the emulator, on the suite's SQLite database; what they write under
``/tmp/events_exports`` (where the pages tell readers to look) is removed afterwards. The project
of ``docs/develop.md`` (a DAG file, a conftest and a test) runs in a pytest process of its own, with
a clean environment, exactly as a reader would run it; it starts with this module, so it runs while
the other blocks do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow import __version__ as AIRFLOW_VERSION
from docs_examples import Example, anchors, examples, fences, local_links
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLES = examples(PAGES)
EXPORTS = Path("/tmp/events_exports")
PROJECT_TIMEOUT = 600
# Asset watchers keep their state where only Airflow 3.3+ offers it: before, their DAGs refuse to parse.
WATCHERS_REFUSED = Version(AIRFLOW_VERSION) < Version("3.3.0")


def _of_kind(*kinds: str) -> list:
    return [pytest.param(example, id=example.id) for example in EXAMPLES if example.kind in kinds]


def _projects() -> dict[Path, list[Example]]:
    projects: dict[Path, list[Example]] = {}
    for example in EXAMPLES:
        if example.kind == "file":
            projects.setdefault(example.page, []).append(example)
    return projects


@pytest.fixture(scope="module", autouse=True)
def project_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[Path, tuple[subprocess.Popen[bytes], Path]]]:
    """Each page's project written out and its pytest started, in a clean environment; and its log."""
    if not any(
        getattr(item, "originalname", "") == "test_a_pages_project_passes_its_own_tests"
        for item in request.session.items
    ):
        yield {}  # not selected: start nothing
        return
    # A reader's shell has none of the suite's Airflow settings; the package is this checkout's.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env["PYTHONPATH"] = str(REPO)
    runs = {}
    for page, files in _projects().items():
        root = tmp_path_factory.mktemp(f"project-{page.stem}")
        for example in files:
            target = root / str(example.file)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(example.code, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
        # To a file, not a pipe: nobody reads a pipe until the project's test, and a full one would stall it.
        with open(root / "pytest.log", "wb") as log:
            run = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        runs[page] = (run, root / "pytest.log")
    yield runs
    for run, _ in runs.values():
        if run.poll() is None:
            run.kill()
        run.wait()


@pytest.fixture
def restored_environment() -> Iterator[None]:
    """Undo what a block sets in ``os.environ`` itself (the emulator's page points a connection)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def exports_removed() -> Iterator[None]:
    """Remove the files a block writes under /tmp/events_exports, and only those."""
    before = {path for path in EXPORTS.rglob("*")} if EXPORTS.exists() else set()
    yield
    if not EXPORTS.exists():
        return
    created = sorted(set(EXPORTS.rglob("*")) - before, key=lambda path: len(path.parts), reverse=True)
    for path in created:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if not before:
        shutil.rmtree(EXPORTS, ignore_errors=True)


@pytest.mark.parametrize("example", _of_kind("code"))
def test_a_code_example_runs(
    example: Example, events_conn: str, restored_environment, exports_removed, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_example"}

    exec(compile(example.code, example.id, "exec"), namespace)

    assert set(namespace) - {"__name__", "__builtins__"}, "the example defined nothing"


@pytest.mark.parametrize("example", _of_kind("dag", "task"))
def test_a_dag_example_runs_through_dag_test(
    example: Example, airflow_db: str, events_conn: str, restored_environment, exports_removed, tmp_path
) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / f"{example.page.stem}_{example.line}.py").write_text(example.dag_file(), encoding="utf-8")
    bag = DagBag(dag_folder=str(folder))
    if WATCHERS_REFUSED and "EventCountCrossingTrigger" in example.code:
        # As the watchers page says: before Airflow 3.3 such a DAG file fails to parse, saying why.
        assert "needs Apache Airflow 3.3.0 or later" in "".join(bag.import_errors.values())
        return
    assert bag.import_errors == {}
    assert bag.dags, "no DAG came out of the example"
    # dag.test() runs only DAGs recorded in the metadata database; the DAG processor would do this.
    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(bag, "dags-folder", None)

    for dag in bag.dags.values():
        assert dag.tasks, f"{dag.dag_id} has no task to run"
        run = dag.test()
        assert run.state == DagRunState.SUCCESS, f"{dag.dag_id}: {run.state}"


@pytest.mark.timeout(PROJECT_TIMEOUT)
@pytest.mark.parametrize("page", [pytest.param(page, id=page.name) for page in _projects()])
def test_a_pages_project_passes_its_own_tests(page: Path, project_runs) -> None:
    run, log = project_runs[page]
    run.wait(timeout=PROJECT_TIMEOUT - 10)
    output = log.read_text(encoding="utf-8", errors="replace")

    assert run.returncode == 0, output[-4000:]
    files = [example.file for example in _projects()[page]]
    tests = sum(1 for name in files if name and Path(name).name.startswith("test_"))
    assert tests, f"{page.name} shows no test file"
    assert " passed" in output.splitlines()[-1] and " failed" not in output.splitlines()[-1], output[-2000:]


def test_the_pages_hold_runnable_examples_of_every_kind() -> None:
    kinds = {example.kind for example in EXAMPLES}
    assert {"code", "dag", "task", "file"} <= kinds, kinds
    assert {example.page.name for example in EXAMPLES} >= {"README.md", "hooks.md", "operators.md"}


def test_an_example_not_run_says_why_in_its_marker_and_in_words_a_reader_sees() -> None:
    for example in (example for example in EXAMPLES if example.kind == "not run"):
        assert len(example.not_run or "") >= 10, f"{example.id}: say why it is not run"
        lines = example.page.read_text(encoding="utf-8").splitlines()[: example.line - 2]
        paragraph = "\n".join(lines[-6:]).lower()
        assert "not run" in paragraph, f"{example.id}: the text before the marker does not say so"


def test_python_is_fenced_as_python_so_that_no_example_escapes_the_run() -> None:
    for page in PAGES:
        for line, info, code, _ in fences(page):
            assert info in {"python", "bash", "json", ""}, f"{page.name}:{line}: fence {info!r}"
            if info == "":  # program output and log lines, not code
                assert not code.lstrip().startswith(("from ", "import ", "def ", "with ")), page.name


def test_every_link_between_the_pages_leads_somewhere() -> None:
    for page in [*PAGES, REPO / "CHANGELOG.md"]:
        for target, anchor in local_links(page):
            assert target.exists(), f"{page.name} links to {target}, which does not exist"
            if anchor:
                assert anchor in anchors(target), (
                    f"{page.name} links to {target.name}#{anchor}, no such heading"
                )
