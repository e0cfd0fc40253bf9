"""`--executor ray`: each run is one Ray task in a fresh worker process
(`max_calls=1`), as many at once as the cluster's GPUs (or CPUs) allow. The data set is
decoded once by this driver and shared through Ray's object store; the driver alone writes
results, as each task finishes, so the exactly-once guarantee of the local executor holds.

Ray is an optional extra (`.[ray]`), imported only here, and only when a suite asks for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import re
import signal
import socket
import tempfile
import warnings

from bench.data.dataset import Dataset
from bench.data.shared_memory import for_hosts
from bench.errors import BenchError, describe_error
from bench.execution.executors.base import Claim, Executor, Record, always, summarize
from bench.execution.one_run import Outcome, Run, crashed, execute
from bench.execution.progress import SilentReporter
from bench.settings import Settings
from bench.training.compile_cache import cache_environment

log = logging.getLogger("bench")
POLL_S = 0.5  # how often the driver looks at the tasks in flight and their progress


def _ray():
    try:
        import ray
    except ImportError:
        raise BenchError("--executor ray needs Ray (pip install -e '.[ray]')") from None
    return ray


def task_environment(backend: str, debug: bool) -> dict[str, str]:
    """What a run's Ray worker is started with: the backend, the compilation caches, quiet
    native logs, and JAX's memory taken as needed (its figures mean nothing otherwise)."""
    env = {**cache_environment(), "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    if backend:
        env["KERAS_BACKEND"] = backend
    if not debug:
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def run_task(run: Run, dataset: Dataset, settings: Settings, batch_size: int, progress):
    """One attempt at a run, in a Ray worker: its Outcome, and where it ran."""
    where = {"node": platform.node(), "gpu_ids": os.environ.get("CUDA_VISIBLE_DEVICES")}
    progress.put((run.label, where))
    return execute(run, dataset, settings, SilentReporter(), batch_size), where


def init_options(settings: Settings, debug: bool) -> dict:
    return {
        "address": settings.ray_address,
        "include_dashboard": False,
        "configure_logging": False,
        "log_to_driver": debug,
        "runtime_env": {"env_vars": task_environment(settings.backend, debug)},
    }


class RayCluster(Executor):
    """The runs of one suite on a Ray cluster (this machine's, or the one at ray_address)."""

    joined: str | None = None  # the address check() joined, for __init__ to use and leave

    @classmethod
    def check(cls, settings: Settings) -> None:
        """Join the cluster at ray_address now, before anything is loaded or written, so that
        one that refuses us (its token), is not there or runs another Ray is one line."""
        ray = _ray()
        address = settings.ray_address
        if ray.is_initialized() and cls.joined not in (None, address):
            ray.shutdown()  # a notebook's earlier suite joined another cluster
        if address is None or ray.is_initialized():
            return
        debug = log.getEffectiveLevel() <= logging.DEBUG
        with native_lines_kept(debug) as native_text, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Ray Client's timeout warning: we say it better
            try:
                probe(address)
                ray.init(**init_options(settings, debug))
            except Exception as err:
                ray.shutdown()  # what a half-done init left
                raise BenchError(connection_failure(err, address, native_text())) from None
        cls.joined = address

    def __init__(self, settings: Settings, dataset: Dataset, reporter):
        super().__init__(settings, dataset, reporter)
        self.ray = _ray()
        self.debug = log.getEffectiveLevel() <= logging.DEBUG
        # Ours to leave at the end: what we started or joined, never a notebook's own ray.init.
        self.started_here = not self.ray.is_initialized() or RayCluster.joined is not None
        if not self.ray.is_initialized():
            self.ray.init(**init_options(settings, self.debug))
        from ray.util.queue import Queue

        self.progress = Queue()
        hosts = [n["NodeManagerHostname"] for n in self.ray.nodes() if n.get("Alive")]
        self.data = self.ray.put(for_hosts(dataset, hosts))  # once, for every run
        gpus = settings.gpus_per_run
        if gpus is None:
            gpus = 1 if self.ray.cluster_resources().get("GPU", 0) else 0
        self.task = self.ray.remote(max_calls=1)(run_task).options(
            num_cpus=settings.cpus_per_run, num_gpus=gpus
        )
        self.in_flight: dict = {}  # object ref -> (run, batch size)

    def environment(self) -> dict:
        """The cluster: its address, nodes and resources."""
        nodes = [n["NodeManagerHostname"] for n in self.ray.nodes() if n.get("Alive")]
        cluster = {"address": self.settings.ray_address, "nodes": nodes}
        return {"ray": cluster | {"resources": self.ray.cluster_resources()}}

    def __exit__(self, *_) -> None:
        if self.started_here:
            self.ray.shutdown()
            RayCluster.joined = None

    def submit(self, run: Run, batch_size: int) -> None:
        ref = self.task.remote(run, self.data, self.settings, batch_size, self.progress)
        self.in_flight[ref] = (run, batch_size)

    def run_all(self, runs: list[Run], record: Record, claim: Claim = always) -> None:
        """Run every run `claim` allows (all claimed here, as they are all submitted at once);
        `record(run, tables)` each as it finishes (out of memory: again at half the batch
        size, down to min_batch_size). Ctrl-C cancels what is in flight."""
        for run in runs:
            if claim(run):
                self.submit(run, self.settings.batch_size)
        try:
            while self.in_flight:
                done, _ = self.ray.wait(list(self.in_flight), num_returns=1, timeout=POLL_S)
                self._say_started()
                for ref in done:
                    run, batch = self.in_flight.pop(ref)
                    outcome = self._outcome(ref, run, batch)
                    if outcome.out_of_memory and batch // 2 >= self.settings.min_batch_size:
                        self.reporter.say(
                            f"  {run.label}: out of memory at batch size {batch}: "
                            f"trying again at {batch // 2}"
                        )
                        self.submit(run, batch // 2)
                    else:
                        record(run, outcome.tables)
                        done = summarize(outcome.tables["runs"])
                        self.reporter.say(f"  done {run.label}: {done}")
        except KeyboardInterrupt:
            for ref in self.in_flight:
                self.ray.cancel(ref, force=True)
            left = ", ".join(run.label for run, _ in self.in_flight.values())
            self.reporter.say(f"interrupted: cancelled, not recorded: {left or 'none'}")
            raise

    def _outcome(self, ref, run: Run, batch: int) -> Outcome:
        """The task's Outcome; a task whose worker died becomes a failed row that says why."""
        try:
            outcome, _ = self.ray.get(ref)
            return outcome
        except self.ray.exceptions.RayError as err:
            killed = isinstance(err, self.ray.exceptions.OutOfMemoryError)
            code = -signal.SIGKILL if killed else None
            why = f"RayWorkerDied: {describe_error(err)}"
            return crashed(run, self.dataset, self.settings, batch, "setup", code, why)

    def _say_started(self) -> None:
        while not self.progress.empty():
            label, where = self.progress.get_nowait()
            gpu = f", GPU {where['gpu_ids']}" if where["gpu_ids"] else ""
            running = len(self.in_flight)
            self.reporter.say(f"  started {label} on {where['node']}{gpu} ({running} in flight)")


# Joining a running cluster ----------------------------------------------------------------
# Ray 2.60's clusters require a token once one exists on the head node (~/.ray/auth_token,
# which any ray.init() that starts a local Ray writes). Ray sends one only where RAY_AUTH_MODE
# is "token", or with `auto`; to an explicit address it sends none, and ray.init then retries
# for 20 s (30 s through Ray Client), printing C++ log lines, before "Failed to connect".
TOKEN_HOW = (
    "RAY_AUTH_TOKEN=<the token `ray get-auth-token` prints on the head node> "
    "(or RAY_AUTH_TOKEN_PATH=<a file holding it>)"
)


def probe(address: str) -> None:
    """Ask the cluster for its id before ray.init: a refused token fails at once, an address
    nobody answers at in seconds (Ray's private clients: lacking them, ray.init finds out)."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            ensure_token_if_auth_enabled,
        )
    except ImportError:
        return
    # RAY_AUTH_MODE=token with no token: ray.init says so; Ray's GcsClient would abort us.
    ensure_token_if_auth_enabled(None, create_token_if_missing=False)
    if address == "auto":
        return  # Ray finds the address, on this machine
    client = address.startswith("ray://")
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon:  # no port: Ray's defaults
        host, port = port, "10001" if client else "6379"
    socket.create_connection((host, int(port)), timeout=5).close()
    with contextlib.suppress(ImportError, AttributeError):
        (ping_client if client else ping_gcs)(f"{host}:{port}")


def ping_gcs(address: str) -> None:
    from ray._raylet import GcsClient

    GcsClient(address=address)  # fetches the cluster id: AuthenticationError if refused


def ping_client(address: str) -> None:
    """A Ray Client server's ping: a refused token is UNAUTHENTICATED at once."""
    import grpc
    from ray._private.grpc_utils import init_grpc_channel
    from ray.core.generated import ray_client_pb2 as messages
    from ray.core.generated import ray_client_pb2_grpc as services
    from ray.exceptions import AuthenticationError

    channel = init_grpc_channel(address, asynchronous=False)  # with the token, if enabled
    ping = messages.ClusterInfoRequest(type=messages.ClusterInfoType.PING)
    try:
        services.RayletDriverStub(channel).ClusterInfo(ping, timeout=10)
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.UNAUTHENTICATED:
            raise AuthenticationError(err.details()) from None
    finally:
        channel.close()


def connection_failure(err: Exception, address: str, native: str) -> str:
    """Why joining the cluster at `address` failed, in one line that says what to set."""
    text = f"{err}\n{native}"
    where = f"the Ray cluster at {address}"
    if type(err).__name__ == "AuthenticationError" or "InvalidAuthToken" in text:
        return token_failure(where, str(err))
    versions = re.findall(r"Ray: (\S+)\s+Python: (\S+)", text)  # the cluster's, then ours
    if "Version mismatch" in text and len(versions) == 2:
        (ray, python), (our_ray, our_python) = versions
        return (
            f"{where} runs Ray {ray} on Python {python}, bench here Ray {our_ray} on Python "
            f"{our_python}: install the same versions of both here as on the cluster"
        )
    if "Could not find any running Ray" in text:
        return "--ray-address auto found no Ray cluster here: start one (`ray start --head`)"
    if isinstance(err, OSError | TimeoutError) or "TimedOut" in text:
        what = "Ray Client server (port 10001 by default)" if "ray://" in address else "Ray"
        why = describe_error(err)
        return f"no {what} answers at {address} ({why}): check what `ray start --head` printed"
    return f"cannot join {where}: {describe_error(err)}"


def token_failure(where: str, message: str) -> str:
    source = token_source()
    if "no authentication token was found" in message:
        return f"RAY_AUTH_MODE=token is set but no token was found for {where}: set {TOKEN_HOW}"
    if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        had = f" (Ray sends {source} only with RAY_AUTH_MODE=token)" if source else ""
        return f"{where} requires a token{had}: set RAY_AUTH_MODE=token and {TOKEN_HOW}"
    return f"{where} refused the token in {source}: it is not this cluster's; set {TOKEN_HOW}"


def token_source() -> str | None:
    """Where Ray takes the token from, in Ray's order."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return f"RAY_AUTH_TOKEN_PATH={os.environ['RAY_AUTH_TOKEN_PATH']}"
    default = os.path.join(os.path.expanduser("~"), ".ray", "auth_token")
    return "~/.ray/auth_token" if os.path.exists(default) else None


@contextlib.contextmanager
def native_lines_kept(debug: bool):
    """Descriptor 2 into a file while Ray connects, `text()` its lines: Ray's C++ client logs
    each retry there ("gcs_client.cc:210: Failed to get cluster ID ... Unauthenticated"), which
    say why it failed and stay off the terminal. `--debug` leaves them on it."""
    if debug:
        yield lambda: ""
        return
    with tempfile.TemporaryFile() as file:
        saved = os.dup(2)
        os.dup2(file.fileno(), 2)
        try:
            yield lambda: os.pread(file.fileno(), 1 << 20, 0).decode(errors="replace")
        finally:
            os.dup2(saved, 2)
            os.close(saved)

