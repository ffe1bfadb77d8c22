"""`local up --cloud aws`: the real AWS stack on simulated AWS, one machine per instance.

Each machine must run its launch template's real user data through cloud-init to the end, see
the simulated AWS only through the two endpoint variables, and leave when its instance is
terminated through Auto Scaling - after the lifecycle notification AWS would send.
(Forming the swarm is the node agent's part and is tested with it.)
"""

from __future__ import annotations

import base64
import json
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from swarmstack.aws.console import console_host_keys
from swarmstack.cloudinit import generate_host_keys
from swarmstack.errors import HostKeyMismatch
from swarmstack.known_hosts import pin_host_keys
from swarmstack.provisioners.inventory import SshSettings
from swarmstack.provisioners.local import LocalCluster, sim
from swarmstack.provisioners.local.sim.launch import sim_credentials
from swarmstack.provisioners.ssh import Connector
from swarmstack.spec import ClusterSpec

from .conftest import require_root, session_cluster_name

REGION = "us-east-1"


@pytest.fixture(scope="module")
def simulation() -> Iterator[dict[str, Any]]:
    """One manager and one worker of the default stack (CloudWatch logs off), booted."""
    require_root()
    name = session_cluster_name("-aws")
    spec = ClusterSpec.model_validate(
        {"name": name, "manager_size": 1, "cluster_size": 1, "enable_cloudwatch_logs": False}
    )
    try:
        result = sim.up(spec, name=name, progress=print)
        sim.wait_for_instances(name, timeout=300, progress=print)
        yield {"name": name, "endpoint": result.endpoints.aws, "result": result}
    finally:
        sim.down(name)
        assert LocalCluster.exists(name) is False


def _client(simulation: dict[str, Any], service: str) -> Any:
    with sim_credentials():
        return boto3.client(service, region_name=REGION, endpoint_url=simulation["endpoint"])  # type: ignore[call-overload]


def _instances(name: str) -> dict[str, dict[str, Any]]:
    return {row["instance_id"]: row for row in sim.status(name)["instances"]}


def _by_role(name: str, role: str) -> str:
    [instance_id] = [i for i, row in _instances(name).items() if row["role"] == role]
    return instance_id


def test_every_machine_ran_its_launch_templates_user_data_to_the_end(
    simulation: dict[str, Any],
) -> None:
    cluster = LocalCluster.open(simulation["name"])
    ec2 = _client(simulation, "ec2")
    assert {m.role for m in cluster.machines} == {"manager", "worker"}
    for machine in cluster.machines:
        status = cluster.ssh(machine.name, "sudo cloud-init status --wait --long", timeout=300)
        assert "status: done" in status.stdout, status.stdout
        assert "DataSourceNoCloud" in status.stdout
        # What cloud-init ran is byte for byte the user data of the instance's template.
        [reservation] = ec2.describe_instances(InstanceIds=[machine.name])["Reservations"]
        tags = {t["Key"]: t["Value"] for t in reservation["Instances"][0]["Tags"]}
        [version] = ec2.describe_launch_template_versions(
            LaunchTemplateId=tags["aws:ec2launchtemplate:id"],
            Versions=[tags["aws:ec2launchtemplate:version"]],
        )["LaunchTemplateVersions"]
        expected = base64.b64decode(version["LaunchTemplateData"]["UserData"])
        seeded = cluster.ssh(
            machine.name, "sudo base64 -w0 /var/lib/cloud/seed/nocloud/user-data"
        ).stdout
        assert base64.b64decode(seeded) == expected
        # The user data's last step: the host-tuning marker.
        marker = cluster.ssh(machine.name, "cat /var/lib/swarmstack/host-tuned").stdout
        assert json.loads(marker)["tuning"]
        # Its private IP in the simulated EC2 is the machine's address.
        assert reservation["Instances"][0]["PrivateIpAddress"] == machine.address


def test_ssh_verifies_each_machine_against_the_keys_its_console_shows(
    simulation: dict[str, Any], tmp_path: Path
) -> None:
    """What `launch-stack --ssh-bootstrap` pins: the host keys cloud-init printed on the
    instance's console (GetConsoleOutput); SSH then accepts the machine and nothing else."""
    cluster = LocalCluster.open(simulation["name"])
    ec2 = _client(simulation, "ec2")
    for machine in cluster.machines:
        with sim_credentials():
            record = console_host_keys(ec2, machine.name)
        assert record is not None, f"{machine.name}: no host keys on its console"
        own = cluster.ssh(machine.name, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout
        assert record.split(",")[0] == " ".join(own.split()[:2])
        impostor = " ".join(generate_host_keys().ed25519_public.split()[:2])
        for keys, verified in ((record, True), (impostor, False)):
            known_hosts = tmp_path / f"known_hosts-{machine.name}-{verified}"
            pin_host_keys(known_hosts, {machine.address: keys})
            settings = SshSettings(
                known_hosts=known_hosts, user=cluster.ssh_user, key=cluster.ssh_key_path
            )
            connector = Connector(settings)
            try:
                if verified:
                    connector.connect(machine.address).close()
                else:
                    with pytest.raises(HostKeyMismatch):
                        connector.connect(machine.address)
            finally:
                connector.close()


def test_machines_reach_imds_and_the_api_through_the_endpoint_variables(
    simulation: dict[str, Any],
) -> None:
    cluster = LocalCluster.open(simulation["name"])
    for machine in cluster.machines:
        # Services (systemd's environment) and logins (/etc/environment) both see them.
        manager_env = cluster.ssh(machine.name, "systemctl show-environment").stdout
        login_env = cluster.ssh(machine.name, "env").stdout
        for variables in (manager_env, login_env):
            assert f"AWS_ENDPOINT_URL={simulation['endpoint']}" in variables
            assert "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://" in variables
        imds = (
            "E=$AWS_EC2_METADATA_SERVICE_ENDPOINT; T=$(curl -fsS -X PUT "
            '-H "X-aws-ec2-metadata-token-ttl-seconds: 60" "${E}latest/api/token"); '
            "for p in instance-id tags/instance/swarmstack-role; do "
            'curl -fsS -H "X-aws-ec2-metadata-token: $T" "${E}latest/meta-data/$p"; echo; done'
        )
        instance_id, role = cluster.ssh(machine.name, imds).stdout.split()
        assert (instance_id, role) == (machine.name, machine.role)
        # boto3 on the machine (Debian's own) gets its role's credentials from IMDS.
        script = (
            "import boto3, os; s = boto3.Session(); "
            "print(s.get_credentials().method, boto3.client('sts', region_name='us-east-1', "
            "endpoint_url=os.environ['AWS_ENDPOINT_URL']).get_caller_identity()['Account'])"
        )
        answer = cluster.ssh(machine.name, f"python3 -c {shlex.quote(script)}").stdout.split()
        assert answer == ["iam-role", "123456789012"]


def test_a_terminated_worker_is_announced_held_and_then_its_machine_removed(
    simulation: dict[str, Any],
) -> None:
    name = simulation["name"]
    autoscaling = _client(simulation, "autoscaling")
    sqs = _client(simulation, "sqs")
    [queue] = [u for u in sqs.list_queues()["QueueUrls"] if "LifecycleQueue" in u]
    worker = _by_role(name, "worker")
    # The test reads the queue as the leader would: the leader's own node agent, which polls
    # it every second, must not take the notice first (its healing is test_aws_self_managing's).
    # Its last ReceiveMessage (a 1 s long poll) lives on in the server after it stops.
    cluster = LocalCluster.open(name)
    cluster.ssh(_by_role(name, "manager"), "sudo systemctl stop swarmstack-agent.service")
    time.sleep(2)
    autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=worker, ShouldDecrementDesiredCapacity=True
    )
    notices = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=5)[
            "Messages"
        ]
    ]
    [notice] = [n for n in notices if n.get("EC2InstanceId") == worker]
    assert notice["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    time.sleep(2)  # a poll of the controller: the machine must stay while the action waits
    row = _instances(name)[worker]
    assert (row["lifecycle_state"], row["machine"]) == ("Terminating:Wait", "running")
    assert cluster.is_running(worker)

    autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=notice["AutoScalingGroupName"],
        LifecycleHookName=notice["LifecycleHookName"],
        LifecycleActionToken=notice["LifecycleActionToken"],
        LifecycleActionResult="CONTINUE",
    )
    deadline = time.monotonic() + 90
    while worker in _instances(name) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert worker not in _instances(name)
    assert worker not in {m.name for m in LocalCluster.open(name).machines}
    assert _by_role(name, "manager")  # the manager was left alone
