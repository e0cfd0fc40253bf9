"""bench on a Ray cluster started as a user starts one: `ray start --head` with token
authentication (Ray 2.60's default once a token exists), and a second node joined to it on
this machine's loopback address. With the token, every run once on the two nodes; without it,
with a wrong one, or at an address nobody answers at, one line, exit 2, nothing written.

Each node is a `ray start --block` in a process group of its own, killed by its id at the end:
`ray stop` would stop every Ray on this machine, other developers' and other tests' too."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers import TINY, assert_each_run_once_and_complete, run_cli

pytest.importorskip("ray", reason="the extra .[ray] (CI installs it)")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]
AUTH = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")
RAY = str(Path(sys.executable).with_name("ray"))  # the CLI beside this Python
READY = "This command will now block forever"  # what `ray start --block` says once it is up


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_node(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """`ray start ARGS --block`, its own process group; returns once the node is up."""
    ports = ["--dashboard-agent-listen-port", str(free_port())]  # not 52365: others use it
    with log.open("w") as out:
        node = subprocess.Popen(
            [RAY, "start", *args, *ports, "--num-cpus", "1", "--disable-usage-stats", "--block"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while READY not in log.read_text():
        assert node.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    return node


@pytest.fixture(scope="module")
def cluster():
    """A head with a token and a second node; yields (gcs address, client address, token)."""
    root = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths
    token = secrets.token_hex(32)
    (root / "token").write_text(token)
    env = {k: v for k, v in os.environ.items() if k not in AUTH}
    env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(root / "token")}
    port, client_port = free_port(), free_port()
    head = ["--head", "--port", str(port), "--ray-client-server-port", str(client_port)]
    head += ["--include-dashboard", "false", "--dashboard-port", str(free_port())]
    head += ["--temp-dir", str(root / "t")]
    nodes = []
    try:
        nodes.append(start_node(head, env, root / "head.log"))
        nodes.append(start_node(["--address", f"127.0.0.1:{port}"], env, root / "node.log"))
        yield f"127.0.0.1:{port}", f"ray://127.0.0.1:{client_port}", token
    finally:
        for node in nodes:  # SIGKILL: on SIGTERM a node drains for 30 s first
            os.killpg(node.pid, signal.SIGKILL)
            node.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_token_of_our_own(monkeypatch):
    """The tests' bench sees only the token each test gives it (a local Ray started by
    another test of this process sets RAY_AUTH_MODE=token in it)."""
    for name in AUTH:
        monkeypatch.delenv(name, raising=False)


def suite(out: Path, address: str, seeds: str = "0") -> list[str]:
    args = ["run", "--models", "simple_cnn", "--seeds", seeds, *TINY]
    return [*args, "--executor", "ray", "--cpus-per-run", "1", "--ray-address", address,
            "--out", str(out)]  # fmt: skip


def test_with_its_token_each_run_runs_once_across_both_nodes(cluster, tmp_path):
    address, _, token = cluster
    out = tmp_path / "results"
    args = suite(out, address, seeds="0,1")  # one on each node, at once
    done = run_cli(*args, env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    assert done.returncode == 0, done.stderr[-3000:]
    assert_each_run_once_and_complete(out, 2)
    ray = json.loads((out / "env.json").read_text())["environment"]["ray"]
    assert len(ray["nodes"]) == 2 and ray["resources"]["CPU"] == 2
    assert "gcs_client.cc" not in done.stderr and "Traceback" not in done.stderr


def test_through_ray_client_with_its_token(cluster, tmp_path):
    _, client, token = cluster
    out = tmp_path / "results"
    done = run_cli(*suite(out, client), env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    assert done.returncode == 0, done.stderr[-3000:]
    assert_each_run_once_and_complete(out, 1)


def one_line_error(args: list[str], env: dict | None = None) -> str:
    done = run_cli(*args, env=env)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("bench: error: "), lines
    return lines[0]


@pytest.mark.parametrize("which", ["gcs", "client"])
def test_without_the_token_one_line_says_what_to_set_and_nothing_is_written(
    cluster, tmp_path, which
):
    address = cluster[0] if which == "gcs" else cluster[1]
    line = one_line_error(suite(tmp_path / "results", address))
    assert f"the Ray cluster at {address} requires a token" in line
    assert "set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN=" in line
    assert not (tmp_path / "results").exists()


def test_a_wrong_token_is_one_line(cluster, tmp_path):
    address = cluster[0]
    wrong = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64}
    line = one_line_error(suite(tmp_path / "results", address), wrong)
    assert f"{address} refused the token in RAY_AUTH_TOKEN: it is not this cluster's" in line
    assert not (tmp_path / "results").exists()


def test_an_address_nobody_answers_at_is_one_line(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    line = one_line_error(suite(tmp_path / "results", address))
    assert f"no Ray answers at {address} (ConnectionRefusedError" in line
    assert not (tmp_path / "results").exists()
