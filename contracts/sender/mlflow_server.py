"""Start and stop a real MLflow tracking server on 127.0.0.1, for tests and the contract test.

The server is MLflow's own tracking server application (``mlflow.server.fastapi_app:app``) under
uvicorn, as ``mlflow server`` runs it, but launched directly: ``mlflow server`` is a second
interpreter that imports MLflow and opens the stores only to start the same uvicorn command,
seconds of a start spent twice. It runs in its own process group, backed by a SQLite file and a
local artifact folder in a working directory, serving artifacts as ``mlflow server`` does by
default. Its model-registry webhooks may call loopback
``http`` URLs (see :func:`loopback_webhook_settings`), so a bridge on 127.0.0.1 can receive
them; these settings are for a test server only. The first start on a machine migrates a fresh
database and keeps a copy as a template (per MLflow version); later starts copy the template and
skip the migration. Plain code, no pytest: the pytest plugin and ``make contract-test`` share it.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from contracts.support.cache import CACHE_ENV as CACHE_ENV  # where the template is kept
from contracts.support.cache import cache_root
from contracts.support.stopping import StopsOnExit

DATABASE_FILE = "mlflow.sqlite3"
ARTIFACTS_FOLDER = "artifacts"
LOG_FILE = "mlflow-server.log"
WEBHOOK_KEY_FILE = "webhook-encryption.key"
DEFAULT_STARTUP_TIMEOUT = 120.0
SERVER_ENVIRONMENT_NAMES = {
    "backend_store": "_MLFLOW_SERVER_FILE_STORE",
    "registry_store": "_MLFLOW_SERVER_REGISTRY_STORE",
    "artifact_root": "_MLFLOW_SERVER_ARTIFACT_ROOT",
    "serve_artifacts": "_MLFLOW_SERVER_SERVE_ARTIFACTS",
    "artifacts_destination": "_MLFLOW_SERVER_ARTIFACT_DESTINATION",
}
"""The variables through which ``mlflow server`` configures its uvicorn worker
(``mlflow.server.constants``); named here so that launching needs no MLflow import."""
SERVER_APPLICATION = "mlflow.server.fastapi_app:app"
_READY_PATH = "/api/2.0/mlflow/experiments/get?experiment_id=0"
"""Answered only once the tracking store is open (and, on a fresh database, migrated)."""
_POLL_INTERVAL = 0.05
_STOP_GRACE = 10.0
_LOG_TAIL_LINES = 30
_PORT_ATTEMPTS = 3
LOOPBACK_ONLY_SETTINGS = ("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS")
"""The settings of :func:`loopback_webhook_settings` that a production server must not have."""


class MlflowServerError(RuntimeError):
    """The tracking server could not be started; the message carries the tail of its log."""


@dataclass
class MlflowServer(StopsOnExit):
    """A running ``mlflow server``; stop it with :meth:`stop` or by leaving a ``with`` block."""

    tracking_uri: str
    workdir: Path
    log_path: Path
    startup_seconds: float
    """Seconds from launching the process to the first healthy answer."""
    from_template: bool
    """True when the database was copied from the migrated template (the fast path)."""
    _process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        """Process id (and process group id) of the server."""
        return self._process.pid

    def stop(self) -> None:
        """End the whole process group: SIGTERM, then SIGKILL for whatever is still running."""
        _stop_process_group(self._process)


def mlflow_version() -> str:
    """Version of the installed full ``mlflow`` package (the server needs it, not just skinny)."""
    try:
        return metadata.version("mlflow")
    except metadata.PackageNotFoundError:
        raise MlflowServerError(
            "the full 'mlflow' package is not installed, and 'mlflow server' needs it; install "
            "it with: pip install 'hokusai-contracts[harness]'"
        ) from None


def template_path(version: str | None = None) -> Path:
    """Where the migrated template database for this MLflow version is cached."""
    return cache_root() / f"mlflow-template-{version or mlflow_version()}.sqlite3"


def start_mlflow_server(
    workdir: Path,
    *,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    webhooks_to_loopback: bool = True,
) -> MlflowServer:
    """Start the tracking server with its database and artifacts under ``workdir``.

    With ``webhooks_to_loopback=False`` its webhooks keep MLflow's production rules for URLs
    (``https`` and public addresses only), as a server the bridge meets in production does.

    Raises :class:`MlflowServerError` (with the tail of the server log) when it does not become
    ready within ``startup_timeout`` seconds; nothing is left running in that case.
    """
    return StartingMlflowServer(
        workdir, startup_timeout=startup_timeout, webhooks_to_loopback=webhooks_to_loopback
    ).wait()


class StartingMlflowServer(StopsOnExit):
    """A server launched at once and waited for later (:meth:`wait`), so that other work can
    run while it starts; :meth:`stop` ends it whether or not it is ready yet."""

    def __init__(
        self,
        workdir: Path,
        *,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        webhooks_to_loopback: bool = True,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self._webhooks_to_loopback = webhooks_to_loopback
        self._template = template_path()
        database = workdir / DATABASE_FILE
        self._existed = database.exists()
        self.from_template = self._template.is_file() and not self._existed
        if self.from_template:
            shutil.copyfile(self._template, database)
        self._started = time.monotonic()
        self._deadline = self._started + startup_timeout
        self._port = _free_port()
        self._process = _spawn(workdir, self._port, webhooks_to_loopback)

    def wait(self) -> MlflowServer:
        """Block until the server answers (relaunching on another port if its port was taken
        meanwhile); stop it and raise :class:`MlflowServerError` if it does not in time."""
        log_path = self.workdir / LOG_FILE
        try:
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                tracking_uri = f"http://127.0.0.1:{self._port}"
                try:
                    _wait_until_ready(self._process, tracking_uri, log_path, self._deadline)
                    break
                except _PortTaken:
                    if attempt == _PORT_ATTEMPTS:
                        raise MlflowServerError(
                            f"no free port for the MLflow server after {attempt} tries"
                        ) from None
                    self._port = _free_port()
                    self._process = _spawn(self.workdir, self._port, self._webhooks_to_loopback)
        except BaseException:
            self.stop()
            raise
        if not self._existed and not self.from_template:
            # Only a database this launch created holds nothing but MLflow's own migrations.
            _save_template(self.workdir / DATABASE_FILE, self._template)
        return MlflowServer(
            tracking_uri=tracking_uri,
            workdir=self.workdir,
            log_path=log_path,
            startup_seconds=time.monotonic() - self._started,
            from_template=self.from_template,
            _process=self._process,
        )

    def stop(self) -> None:
        """End the whole process group: SIGTERM, then SIGKILL for whatever is still running."""
        _stop_process_group(self._process)


@contextlib.contextmanager
def running_mlflow_server(
    workdir: Path,
    *,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    webhooks_to_loopback: bool = True,
) -> Iterator[MlflowServer]:
    """A started server for the duration of a ``with`` block, stopped however the block ends."""
    server = start_mlflow_server(
        workdir, startup_timeout=startup_timeout, webhooks_to_loopback=webhooks_to_loopback
    )
    try:
        yield server
    finally:
        server.stop()


class _PortTaken(Exception):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_command(port: int) -> list[str]:
    """uvicorn on MLflow's application, one worker, with MLflow's own log configuration."""
    log_config = Path(mlflow_package_folder(), "server", "uvicorn_log_config.yaml")
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--log-config",
        str(log_config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        SERVER_APPLICATION,
    ]


def mlflow_package_folder() -> Path:
    """Where the ``mlflow`` package is installed, found without importing it."""
    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        mlflow_version()  # raises the error that names the extra to install
        raise MlflowServerError("the 'mlflow' package cannot be found")
    return Path(next(iter(spec.submodule_search_locations)))


def server_environment(workdir: Path) -> dict[str, str]:
    """What ``mlflow server --backend-store-uri sqlite:///... --artifacts-destination ...``
    hands its uvicorn worker: the stores, served artifacts and a fresh boot id."""
    database = f"sqlite:///{(workdir / DATABASE_FILE).resolve()}"
    names = SERVER_ENVIRONMENT_NAMES
    return {
        names["backend_store"]: database,
        names["registry_store"]: database,
        names["artifact_root"]: "mlflow-artifacts:/",
        names["serve_artifacts"]: "true",
        names["artifacts_destination"]: str((workdir / ARTIFACTS_FOLDER).resolve()),
        "_MLFLOW_SGI_NAME": "uvicorn",
        "_MLFLOW_SERVER_BOOT_ID": uuid.uuid4().hex,
        "_MLFLOW_IN_JOB_EXECUTOR": "false",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }


def loopback_webhook_settings(workdir: Path) -> dict[str, str]:
    """The environment that lets the server's webhooks reach a receiver on this machine.

    Plain ``http`` and private addresses are allowed (production keeps MLflow's defaults:
    ``https`` and public addresses only); each event's webhook list is read afresh (a TTL of 0
    turns off MLflow's 60 s cache), so the very next event after a webhook is created reaches
    it; and webhook secrets are encrypted with a key kept in ``workdir``, so a restarted server
    can still read them.
    """
    return {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": "0",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": _webhook_encryption_key(workdir),
    }


def _webhook_encryption_key(workdir: Path) -> str:
    """The Fernet key for this working directory: made once, then read back on every start."""
    path = workdir / WEBHOOK_KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return path.read_text(encoding="ascii").strip()
    key = base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="ascii") as file:
        file.write(key)
    return key


def _spawn(workdir: Path, port: int, webhooks_to_loopback: bool) -> subprocess.Popen[bytes]:
    webhooks = loopback_webhook_settings(workdir)
    if not webhooks_to_loopback:
        for name in LOOPBACK_ONLY_SETTINGS:
            del webhooks[name]
    environment = {
        **{name: value for name, value in os.environ.items() if name not in LOOPBACK_ONLY_SETTINGS},
        **server_environment(workdir),
        **webhooks,
    }
    with (workdir / LOG_FILE).open("ab") as log:
        return subprocess.Popen(
            _server_command(port),
            cwd=workdir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until_ready(
    process: subprocess.Popen[bytes], tracking_uri: str, log_path: Path, deadline: float
) -> None:
    """Poll ``/health`` until it answers, then open the store with one API call (the first
    one opens it, and on a fresh database migrates it: seconds the start is charged with)."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = _log_tail(log_path)
            if "Address already in use" in tail or "Errno 98" in tail:
                raise _PortTaken
            raise MlflowServerError(
                f"the MLflow server exited with code {process.returncode} before answering "
                f"{tracking_uri}/health; the end of its log ({log_path}):\n{tail}"
            )
        if _is_healthy(tracking_uri) and _is_ready(tracking_uri, deadline):
            return
        time.sleep(_POLL_INTERVAL)
    raise MlflowServerError(
        f"the MLflow server did not answer {tracking_uri}/health and its API in time (a slow "
        "machine may need a longer startup timeout); the end of its log "
        f"({log_path}):\n{_log_tail(log_path)}"
    )


def _is_ready(tracking_uri: str, deadline: float) -> bool:
    try:
        timeout = max(deadline - time.monotonic(), 1.0)
        with urllib.request.urlopen(tracking_uri + _READY_PATH, timeout=timeout) as answer:
            return int(answer.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _is_healthy(tracking_uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{tracking_uri}/health", timeout=2) as answer:
            return int(answer.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log written)"
    return "\n".join(lines[-_LOG_TAIL_LINES:]) or "(the log is empty)"


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    group = process.pid  # start_new_session: the server leads its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=_STOP_GRACE)
    while _group_alive(group) and time.monotonic() < deadline:
        time.sleep(_POLL_INTERVAL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    process.wait()


def _save_template(database: Path, template: Path) -> None:
    """Copy the freshly migrated database, consistently, to the cache (atomic rename)."""
    temporary: str | None = None
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=template.parent, suffix=".partial")
        os.close(handle)
        with (
            contextlib.closing(sqlite3.connect(database)) as source,
            contextlib.closing(sqlite3.connect(temporary)) as copy,
        ):
            source.backup(copy)
        os.replace(temporary, template)
    except (OSError, sqlite3.Error):
        # A cache that cannot be written only costs the next start its speed.
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


# --- a tiny model to register ---------------------------------------------------------------

_TINY_MODEL_CODE = '''"""Scores every lead 0.5: the smallest model MLflow can load and serve."""

import mlflow.models
import mlflow.pyfunc
import pandas



class LeadScorer(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: pandas.DataFrame, params=None) -> pandas.DataFrame:
        return pandas.DataFrame({"score": [0.5] * len(model_input)})


mlflow.models.set_model(LeadScorer())
'''
TINY_MODEL_ARTIFACT_PATH = "model"
TINY_MODEL_COLUMNS = (
    ("lead_id", "string", True),
    ("visits", "long", True),
    ("spend", "double", True),
    ("opted_in", "boolean", False),
)
"""The tiny model's input columns (name, MLflow type, required); it outputs one ``score``."""


def save_tiny_model(directory: Path, *, with_signature: bool = True) -> Path:
    """Save a real (loadable) pyfunc model, from code, under ``directory``; return its folder.

    With ``with_signature`` (the default) the model has a column-based signature
    (:data:`TINY_MODEL_COLUMNS` in, a ``score`` double out), so a v2 notification carries an
    ``api_schema``; without, it has none, as models logged without one have.
    """
    import mlflow.pyfunc

    directory.mkdir(parents=True, exist_ok=True)
    code = directory / "lead_scorer.py"
    code.write_text(_TINY_MODEL_CODE, encoding="utf-8")
    model_dir = directory / (
        TINY_MODEL_ARTIFACT_PATH if with_signature else f"{TINY_MODEL_ARTIFACT_PATH}-unsigned"
    )
    if not model_dir.exists():
        with _without_advice():
            mlflow.pyfunc.save_model(
                str(model_dir),
                python_model=str(code),
                pip_requirements=[],
                signature=_tiny_signature() if with_signature else None,
                uv_project_path=directory,  # not the current folder's uv.lock, if it has one
            )
    return model_dir


@contextlib.contextmanager
def _without_advice() -> Iterator[None]:
    """Hush MLflow's advice to add an input example or a signature while the tiny model is
    saved (a model without a signature is wanted as it is), and its warning that an
    environment without pip has no pip version to write down (the model needs none)."""
    loggers = [logging.getLogger(name) for name in ("mlflow.pyfunc", "mlflow.utils.environment")]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logging.ERROR, logger.getEffectiveLevel()))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)


def _tiny_signature() -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    inputs: list[ColSpec | TensorSpec] = [
        ColSpec(kind, name, required=required) for name, kind, required in TINY_MODEL_COLUMNS
    ]
    return ModelSignature(Schema(inputs), Schema([ColSpec("double", "score")]))


def log_tiny_model(tracking_uri: str, model_dir: Path, experiment_id: str = "0") -> str:
    """Log ``model_dir`` in a new run on ``tracking_uri``; return its ``runs:/<id>/model`` URI.

    Uses an explicit client, so no global MLflow state (tracking URI, active run) changes.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    client.log_artifacts(run_id, str(model_dir), TINY_MODEL_ARTIFACT_PATH)
    client.set_terminated(run_id)
    return f"runs:/{run_id}/{TINY_MODEL_ARTIFACT_PATH}"
