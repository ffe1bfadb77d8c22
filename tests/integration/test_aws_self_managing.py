"""The AWS stack forms and heals its own swarm: the real template, real cloud-init, the node
agent on real machines (issue 12's "done when").

They run on the AWS simulation (`swarmstack local up --cloud aws`: a moto server on the
cluster's bridge, a machine per instance running the launch template's user data under
cloud-init, IMDSv2 emulation, lifecycle notices posted to SQS) through the ``aws_simulation``
fixture (aws_simulation.py): ``create_stack(managers, workers, console=..., **spec values)``
(the stack as `aws cloudformation create-stack` makes it, no swarmstack command forms the
swarm), ``run(instance_id, command)``, ``client(service)`` and ``load_busybox(instance_id)``.
The healing tests reuse one 3+2 stack, whatever its worker count after the test before.
"""

from __future__ import annotations

import ipaddress
import json
import time
from typing import Any

import boto3
import pytest

from swarmstack.errors import LocalProviderError

from .running import wait_until


def _nodes(simulation: Any, manager_instance: str) -> list[dict[str, Any]]:
    out = simulation.run(manager_instance, "docker node ls --format '{{json .}}'")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize(("manager_count", "worker_count"), [(1, 1), (3, 2)])
def test_a_stack_forms_its_swarm_without_swarmstack(
    aws_simulation: Any, manager_count: int, worker_count: int
) -> None:
    """create-stack only: M managers + W workers Ready, labelled, M reachable managers."""
    stack = aws_simulation.create_stack(managers=manager_count, workers=worker_count)
    managers = stack.instances("manager")
    total = manager_count + worker_count
    wait_until(lambda: len(_nodes(aws_simulation, managers[0])) == total, 120, f"{total} nodes")
    nodes = _nodes(aws_simulation, managers[0])
    assert all(n["Status"] == "Ready" for n in nodes)
    assert sum(n["ManagerStatus"] in ("Leader", "Reachable") for n in nodes) == manager_count
    # The leader labels nodes on its rounds (every few seconds), after they signalled Ready.
    labelled = "docker node ls -q --filter node.label=swarmstack.instance-id"
    wait_until(
        lambda: len(aws_simulation.run(managers[0], labelled).split()) == total,
        30,
        "every node labelled",
    )
    for instance in stack.instances():
        labels = json.loads(
            aws_simulation.run(
                managers[0],
                "docker node inspect --format '{{json .Spec.Labels}}' "
                f"$(docker node ls -q --filter node.label=swarmstack.instance-id={instance})",
            )
        )
        assert labels["swarmstack.instance-id"] == instance


def test_a_worker_terminated_through_the_group_leaves_no_down_node(aws_simulation: Any) -> None:
    """Terminate through the group: node gone, lifecycle action completed well before 900 s."""
    stack = aws_simulation.create_stack(managers=3, workers=2)
    autoscaling = boto3.client("autoscaling", endpoint_url=aws_simulation.endpoint)
    victim = stack.instances("worker")[0]
    started = time.monotonic()
    autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=victim, ShouldDecrementDesiredCapacity=True
    )
    manager = stack.instances("manager")[0]
    wait_until(lambda: len(_nodes(aws_simulation, manager)) == 4, 60, "the worker's node to go")
    assert time.monotonic() - started < 30


# --- healing: the tests below reuse the 3+2 stack above, whatever its worker count now ----


def _settled(simulation: Any, stack: Any, timeout: float = 180) -> str:
    """Until every running instance has a Ready node, labelled with its instance, and no
    other node is listed (no Down node); returns a manager to run commands on."""
    expected: set[str] = set()

    def settled() -> bool:
        nonlocal expected
        expected = set(stack.instances())
        nodes = _nodes_with_instances(simulation, stack.instances("manager")[0])
        return len(nodes) == len(expected) and all(
            state == "ready" and instance in expected for instance, state in nodes
        )

    wait_until(settled, timeout, "every instance's node Ready and labelled, no other node")
    return str(stack.instances("manager")[0])


def _nodes_with_instances(simulation: Any, manager: str) -> list[tuple[str, str]]:
    """(instance-id label, state) of every node, in the managers' view. A node the leader
    removes between the listing and its inspection is gone, not an error."""
    out = simulation.run(
        manager,
        "ids=$(docker node ls -q) || exit 1; for n in $ids; do "
        "docker node inspect --format "
        '\'{{index .Spec.Labels "swarmstack.instance-id"}} {{.Status.State}}\' "$n" '
        "2>/tmp/inspect.err || grep -q 'No such node' /tmp/inspect.err || exit 1; done",
    )
    rows = [line.rpartition(" ") for line in out.splitlines() if line.strip()]
    return [(instance, state) for instance, _, state in rows]


def _group_name(simulation: Any, stack: Any, role: str) -> str:
    resource = simulation.client("cloudformation").describe_stack_resource(
        StackName=stack.name, LogicalResourceId=f"{role.capitalize()}AutoScalingGroup"
    )
    return str(resource["StackResourceDetail"]["PhysicalResourceId"])


def test_two_more_workers_through_the_group_join_ready_and_labelled(aws_simulation: Any) -> None:
    """set-desired-capacity +2 on the workers' group: two more Ready nodes, labelled."""
    stack = aws_simulation.create_stack(managers=3, workers=2, resized_ok=True)
    manager = _settled(aws_simulation, stack)
    before = set(stack.instances())
    autoscaling = aws_simulation.client("autoscaling")
    group = _group_name(aws_simulation, stack, "worker")
    [described] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ]
    started = time.monotonic()
    autoscaling.set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=described["DesiredCapacity"] + 2
    )
    wait_until(lambda: len(set(stack.instances()) - before) == 2, 60, "two new instances")
    new = set(stack.instances()) - before
    _settled(aws_simulation, stack, timeout=240)
    took = time.monotonic() - started
    print(f"two workers added: Ready and labelled {took:.0f} s after set-desired-capacity")
    labelled = dict(_nodes_with_instances(aws_simulation, manager))
    assert new <= set(labelled), f"new instances {sorted(new)} not labelled: {labelled}"
    roles = aws_simulation.run(
        manager,
        "docker node ls --filter role=worker -q | xargs -r docker node inspect "
        "--format '{{index .Spec.Labels \"swarmstack.instance-id\"}}'",
    ).split()
    assert new <= set(roles), "the new nodes are workers"


# Runs on a surviving manager, once a second: `docker node ls` (answers only while raft has a
# quorum and a leader) and a GET to every replica of the service.
PROBE = """
import subprocess, time, urllib.request
from pathlib import Path
while not Path("/tmp/probe.stop").exists():
    nodes = subprocess.run(["docker", "node", "ls", "-q"], capture_output=True, timeout=10)
    try:
        for url in URLS:
            urllib.request.urlopen(url, timeout=3).read()
        web = "ok"
    except OSError:
        web = "fail"
    print(int(time.time()), "nodes=" + ("ok" if nodes.returncode == 0 else "fail"), "web=" + web,
          flush=True)
    time.sleep(1)
"""


def _start_probe(simulation: Any, manager: str, urls: list[str]) -> None:
    script = PROBE.replace("URLS", repr(urls))
    simulation.run(
        manager,
        f"rm -f /tmp/probe.stop; cat > /tmp/probe.py <<'EOF'\n{script}EOF\n"
        "setsid python3 /tmp/probe.py </dev/null >/tmp/probe.log 2>&1 &",
    )


def _answering(simulation: Any, manager: str, urls: list[str]) -> bool:
    get = f"[urllib.request.urlopen(u, timeout=3).read().decode() for u in {urls!r}]"
    try:
        out = simulation.run(manager, f'python3 -c "import urllib.request; print({get})"')
    except Exception:
        return False
    return bool(out.count("up") == len(urls))


def _start_web(simulation: Any, stack: Any, manager: str, name: str, port: int) -> list[str]:
    """Two busybox httpd replicas on the workers, each on its node's ``port`` (host mode:
    these machines' kernel has no IPVS for the routing mesh); returns their URLs."""
    for worker in stack.instances("worker"):
        simulation.load_busybox(worker)
    simulation.run(
        manager,
        f"docker service create --detach --name {name} --replicas 2 --endpoint-mode dnsrr "
        f"--constraint node.role==worker --publish mode=host,target=80,published={port} "
        "swarmstack/busybox:latest sh -c 'echo up > /index.html && exec httpd -f -p 80 -h /'",
    )
    urls: list[str] = []

    def running() -> bool:
        nonlocal urls
        tasks = simulation.run(
            manager,
            f"docker service ps {name} -q --filter desired-state=running | xargs -r docker inspect "
            "--format '{{.Status.State}} {{.NodeID}}'",
        ).split("\n")
        nodes = [t.split()[1] for t in tasks if t.startswith("running ")]
        if len(nodes) != 2:
            return False
        addresses = simulation.run(
            manager, "docker node inspect --format '{{.Status.Addr}}' " + " ".join(nodes)
        ).split()
        urls = [f"http://{address}:{port}/" for address in addresses]
        return _answering(simulation, manager, urls)

    try:
        wait_until(running, 120, f"both replicas of {name} answering on {port}")
    except AssertionError as error:
        tasks = simulation.run(manager, f"docker service ps --no-trunc {name}")
        raise AssertionError(f"{error}; urls {urls}; tasks:\n{tasks}") from None
    return urls


def test_a_manager_terminated_through_the_group_is_replaced_and_quorum_holds(
    aws_simulation: Any,
) -> None:
    """The leader's instance terminated through the group: its node is drained, demoted and
    removed, a replacement instance joins as manager; on a surviving manager `docker node ls`
    (needs raft quorum) and a replicated service answer every second throughout."""
    stack = aws_simulation.create_stack(managers=3, workers=2, resized_ok=True)
    manager = _settled(aws_simulation, stack)
    urls = _start_web(aws_simulation, stack, manager, "web", 18081)
    leader = aws_simulation.run(
        manager,
        "docker node inspect --format '{{index .Spec.Labels \"swarmstack.instance-id\"}}' "
        "$(docker node ls -q --filter role=manager | xargs -r docker node inspect "
        "--format '{{.ID}} {{.ManagerStatus.Leader}}' | awk '$2==\"true\"{print $1}')",
    ).strip()
    assert leader in stack.instances("manager")
    survivor = next(m for m in stack.instances("manager") if m != leader)
    managers_before = set(stack.instances("manager"))
    _start_probe(aws_simulation, survivor, urls)
    time.sleep(3)
    started = time.monotonic()
    aws_simulation.client("autoscaling").terminate_instance_in_auto_scaling_group(
        InstanceId=leader, ShouldDecrementDesiredCapacity=False
    )

    def replaced() -> bool:
        managers = set(stack.instances("manager"))
        if leader in managers or len(managers) != 3:
            return False
        try:  # the probe, not this, judges the swarm's answers while it changes
            view = aws_simulation.run(
                survivor,
                "docker node ls --filter role=manager --format '{{.Status}} {{.ManagerStatus}}'",
            ).splitlines()
            nodes = dict(_nodes_with_instances(aws_simulation, survivor))
        except LocalProviderError:
            return False
        return (
            sorted(view) == ["Ready Leader", "Ready Reachable", "Ready Reachable"]
            and leader not in nodes
            and set(nodes) == set(stack.instances())
        )

    wait_until(replaced, 300, "a replacement manager Ready and Reachable, the old node gone")
    took = time.monotonic() - started
    aws_simulation.run(survivor, "touch /tmp/probe.stop; sleep 3")
    probes = aws_simulation.run(survivor, "cat /tmp/probe.log").splitlines()
    print(f"leader {leader} replaced in {took:.0f} s; {len(probes)} probes")
    assert set(stack.instances("manager")) - managers_before, "a new manager instance"
    assert len(probes) >= took / 3, f"too few probes: {probes}"
    failed = [p for p in probes if "fail" in p]
    assert failed == [], f"quorum or service lost during the replacement: {failed}"
    _settled(aws_simulation, stack)
    aws_simulation.run(survivor, "docker service rm web")


def test_an_instance_terminated_outside_the_hook_is_swept(aws_simulation: Any) -> None:
    """EC2 TerminateInstances directly (no lifecycle notice): the leader removes its Down node
    after the sweep's grace period."""
    stack = aws_simulation.create_stack(managers=3, workers=2, resized_ok=True)
    manager = _settled(aws_simulation, stack)
    victim = stack.instances("worker")[0]
    started = time.monotonic()
    aws_simulation.client("ec2").terminate_instances(InstanceIds=[victim])

    def state_of_victim() -> str:
        return dict(_nodes_with_instances(aws_simulation, manager)).get(victim, "gone")

    wait_until(lambda: state_of_victim() == "down", 90, "the terminated instance's node Down")
    print(f"node of {victim} Down after {time.monotonic() - started:.0f} s")
    wait_until(lambda: state_of_victim() == "gone", 150, "the Down node swept")
    print(f"node of {victim} swept {time.monotonic() - started:.0f} s after the termination")
    nodes = _nodes_with_instances(aws_simulation, manager)
    assert all(state == "ready" for _, state in nodes), nodes


def _listeners(simulation: Any, stack: Any) -> dict[int, str]:
    """Port -> target group ARN of the stack's load balancer's listeners."""
    elb = simulation.client("elbv2")
    balancer = simulation.client("cloudformation").describe_stack_resource(
        StackName=stack.name, LogicalResourceId="LoadBalancer"
    )["StackResourceDetail"]["PhysicalResourceId"]
    found = {}
    for listener in elb.describe_listeners(LoadBalancerArn=balancer)["Listeners"]:
        [action] = listener["DefaultActions"]
        found[int(listener["Port"])] = str(action.get("TargetGroupArn", ""))
    return found


def _target_group_ports(simulation: Any) -> dict[str, int]:
    groups = simulation.client("elbv2").describe_target_groups()["TargetGroups"]
    return {str(g["TargetGroupArn"]): int(g["Port"]) for g in groups}


def test_a_published_service_port_gets_a_listener_and_loses_it_with_the_service(
    aws_simulation: Any,
) -> None:
    """`docker service create --publish 8080:80`: within 60 s a listener on 8080 forwarding
    to a target group of the workers' group; `docker service rm`: both gone within 60 s."""
    stack = aws_simulation.create_stack(managers=3, workers=2, resized_ok=True)
    manager = _settled(aws_simulation, stack)
    assert 8080 not in _listeners(aws_simulation, stack)
    started = time.monotonic()
    aws_simulation.run(
        manager,
        "docker service create --detach --name published --publish 8080:80 "
        "swarmstack/busybox:latest httpd -f -p 80",
    )
    wait_until(lambda: 8080 in _listeners(aws_simulation, stack), 60, "a listener on 8080")
    print(f"listener on 8080 after {time.monotonic() - started:.0f} s")
    group = _listeners(aws_simulation, stack)[8080]
    assert _target_group_ports(aws_simulation).get(group) == 8080
    attached = aws_simulation.client("autoscaling").describe_load_balancer_target_groups(
        AutoScalingGroupName=_group_name(aws_simulation, stack, "worker")
    )["LoadBalancerTargetGroups"]
    assert group in {a["LoadBalancerTargetGroupARN"] for a in attached}
    started = time.monotonic()
    aws_simulation.run(manager, "docker service rm published")
    wait_until(lambda: 8080 not in _listeners(aws_simulation, stack), 60, "the 8080 listener gone")
    wait_until(
        lambda: group not in _target_group_ports(aws_simulation), 10, "its target group gone"
    )
    print(f"listener and target group of 8080 gone after {time.monotonic() - started:.0f} s")


def test_no_join_token_in_user_data_outputs_or_command_lines(aws_simulation: Any) -> None:
    """The tokens live only in SecureString parameters: not in the user data (gzip, so read
    with `zcat -f`), the stack's outputs, or any process's argv or environment."""
    stack = aws_simulation.create_stack(managers=1, workers=1)
    manager = stack.instances("manager")[0]
    tokens = aws_simulation.join_tokens(manager)
    assert all(t.startswith("SWMTKN-") for t in tokens.values())
    for instance in stack.instances():
        seen = aws_simulation.where_secrets_must_not_be(instance)
        assert "SWMTKN" not in seen, f"a join token on {instance}"
    outputs = aws_simulation.client("cloudformation").describe_stacks(StackName=stack.name)
    assert "SWMTKN" not in json.dumps(outputs, default=str)
    ssm = aws_simulation.client("ssm")
    stored = ssm.get_parameters_by_path(Path="/", Recursive=True, WithDecryption=True)
    kept = {p["Value"]: p["Type"] for p in stored["Parameters"] if p["Value"] in tokens.values()}
    assert sorted(kept) == sorted(tokens.values()), "both tokens kept in the parameter store"
    assert set(kept.values()) == {"SecureString"}


def test_docker_networks_on_the_machines_stay_in_the_benchmark_range(aws_simulation: Any) -> None:
    """The network rule: every address and docker subnet on a simulated instance (docker0,
    docker_gwbridge, ingress, overlays) lies in 198.18.0.0/15, whatever the user data's
    daemon.json chose for a cloud host."""
    stack = aws_simulation.create_stack(managers=1, workers=1)
    allowed = ipaddress.IPv4Network("198.18.0.0/15")
    for instance in stack.instances():
        addresses = aws_simulation.run(instance, "ip -o -4 addr show | awk '{print $4}'").split()
        subnets = aws_simulation.run(
            instance,
            "docker network inspect --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "
            "$(docker network ls -q)",
        ).split()
        assert "docker0" in aws_simulation.run(instance, "ip -o link show")
        assert subnets, f"no docker network on {instance}"
        for network in [*addresses, *subnets]:
            if network.startswith("127."):
                continue
            assert ipaddress.IPv4Interface(network).network.subnet_of(allowed), (
                f"{instance}: {network} is outside {allowed}"
            )


def test_console_parameters_take_effect_on_the_nodes(aws_simulation: Any) -> None:
    """EnableSystemPrune=yes and EnableCloudWatchLogs=no set as a console user would, on a
    template rendered with prune off and logs on: the nodes read the instance tags at boot
    (not the user data), so the prune timer is enabled and dockerd logs with `local`."""
    stack = aws_simulation.create_stack(
        managers=1,
        workers=1,
        enable_system_prune=False,
        enable_cloudwatch_logs=True,
        console={"EnableSystemPrune": "yes", "EnableCloudWatchLogs": "no"},
    )
    for instance in stack.instances():
        timer = aws_simulation.run(
            instance, "systemctl is-enabled swarmstack-docker-prune.timer || true"
        )
        assert timer.strip() == "enabled", f"prune timer on {instance}: {timer!r}"
        driver = aws_simulation.run(instance, "docker info --format '{{.LoggingDriver}}'")
        assert driver.strip() == "local", f"log driver on {instance}: {driver!r}"
