"""Integration fixtures: real local machines (systemd-nspawn) booted once per test session.

    def test_something(local_cluster_factory):
        cluster = local_cluster_factory(3, 2)      # boots once; later calls reuse or scale
        cluster.inventory()                        # hand it to the SSH bootstrap

Without root the tests are skipped with the reason - except under CI (the CI variable set),
where a missing root is a failure: CI must run them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import paramiko
import pytest

from swarmstack.errors import LocalProviderError
from swarmstack.provisioners.local import BeforeRemove, LocalCluster, Machine, cluster_names, sim
from swarmstack.provisioners.local.sim.launch import sim_credentials

from .aws_simulation import REGION, AwsSimulation
from .azure_simulation import AzureSimulation
from .simulation_machines import SimulationMachines

# Session clusters are named after the pytest process, so parallel sessions (two engineers,
# or CI and a developer) never share machines, and leftovers of a killed session are known.
SESSION_PREFIX = "it"
Simulation = TypeVar("Simulation", bound=SimulationMachines[Any])


class ClusterFactory(Protocol):
    def __call__(
        self,
        managers: int = 3,
        workers: int = 2,
        *,
        before_remove: BeforeRemove | None = None,
    ) -> LocalCluster: ...


def require_root() -> None:
    """Skip without root; fail instead when CI is set (CI must not silently skip these)."""
    if os.geteuid() == 0:
        return
    reason = (
        "integration tests boot real local machines and need root "
        "(network namespaces, overlay mounts, systemd-nspawn); run pytest as root"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason} - CI is set, so this is a failure, not a skip", pytrace=False)
    pytest.skip(reason)


def _progress(message: str) -> None:
    print(f"[local machines] {message}", file=sys.stderr, flush=True)


def _remove_clusters_of_dead_sessions() -> None:
    """A killed pytest leaves its machines running; the next session cleans them up."""
    for name in cluster_names():
        pid = name.removeprefix(SESSION_PREFIX).split("-")[0]
        if name.startswith(SESSION_PREFIX) and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            _progress(f"removing {name}, left behind by an ended test session")
            with contextlib.suppress(LocalProviderError):
                if sim.is_simulation(name):
                    sim.down(name)  # its simulated-AWS process first, or it boots them again
                else:
                    LocalCluster.open(name).down()


def session_cluster_name(suffix: str = "") -> str:
    return f"{SESSION_PREFIX}{os.getpid()}{suffix}"


@pytest.fixture(scope="session")
def local_cluster_factory() -> Iterator[ClusterFactory]:
    """Boots the session's local cluster on first use; later calls with other counts scale it.

    `before_remove(cluster, leaving)` runs while the leaving machines still run (drain and
    remove their swarm nodes there). The cluster is powered off and removed after the session.
    """
    require_root()
    _remove_clusters_of_dead_sessions()
    name = session_cluster_name()

    def factory(
        managers: int = 3,
        workers: int = 2,
        *,
        before_remove: BeforeRemove | None = None,
    ) -> LocalCluster:
        return LocalCluster.up(
            managers, workers, name=name, progress=_progress, before_remove=before_remove
        )

    try:
        yield factory
    finally:
        if LocalCluster.exists(name):
            LocalCluster.open(name, progress=_progress).down()


@pytest.fixture
def local_cluster(local_cluster_factory: ClusterFactory) -> LocalCluster:
    """The session cluster at 3 managers + 2 workers (scaled back to it if a test changed it)."""
    return local_cluster_factory(3, 2)


def connect(cluster: LocalCluster, machine: Machine, known_hosts: Path) -> paramiko.SSHClient:
    return connect_strictly(machine.address, cluster.ssh_user, cluster.ssh_key_path, known_hosts)


def connect_strictly(
    address: str, user: str, key: Path, known_hosts: Path, timeout: float = 10
) -> paramiko.SSHClient:
    """Strict host key checking: only keys in known_hosts, unknown or different ones refused."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        address,
        username=user,
        key_filename=str(key),
        look_for_keys=False,
        allow_agent=False,
        timeout=timeout,
        banner_timeout=timeout,
        auth_timeout=timeout,
    )
    return client


def run(client: paramiko.SSHClient, command: str, timeout: float = 60) -> str:
    _stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
    code = stdout.channel.recv_exit_status()
    out = stdout.read().decode()
    assert code == 0, f"{command!r} exited {code}: {stderr.read().decode()}"
    return str(out)


@contextlib.contextmanager
def _simulation(make: Callable[[str], Simulation], suffix: str) -> Iterator[Simulation]:
    """A simulation fixture's object for the module (its clusters named after the session
    and ``suffix``); its cluster removed after the module."""
    require_root()
    _remove_clusters_of_dead_sessions()
    simulation = make(session_cluster_name(suffix))
    try:
        yield simulation
    finally:
        simulation.close()


@pytest.fixture(scope="module")
def aws_simulation() -> Iterator[AwsSimulation]:
    """Stacks on the AWS simulation (see aws_simulation.py); removed after the module."""
    # The tests' own boto3 clients: the simulation's fake credentials and region, never a
    # user's profile nor the instance metadata address.
    with (
        _simulation(AwsSimulation, "-sa") as simulation,
        sim_credentials(),
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("AWS_DEFAULT_REGION", REGION)
        yield simulation


@pytest.fixture(scope="module")
def azure_simulation() -> Iterator[AzureSimulation]:
    """Deployments on the Azure simulation (see azure_simulation.py); removed after the module."""
    with _simulation(AzureSimulation, "-az") as simulation:
        yield simulation
