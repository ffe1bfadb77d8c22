"""The node agent's loops: configure (before dockerd starts), boot (form or join the swarm,
then signal CloudFormation) and, on managers, heal (the leader acts; any manager takes over).

    python3 -m swarmstack.provisioners.nodeagent configure|run

Its settings (/etc/swarmstack/agent.json) come from the spec through the user data and hold no
secrets; what the console may change (logs, prune) is read from the instance's tags.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...contract import (
    CLUSTER_TAG,
    LOG_GROUP_TAG,
    ROLE_TAG,
    SWARM_PORT,
    SYSTEM_PRUNE_TAG,
)
from . import decisions as d
from .aws import Cloud, Imds, StackResources
from .engine import Engine

if TYPE_CHECKING:  # Azure nodes run azure.py, which uses these loops with its adapter
    from typing import TypeAlias

    from . import azure

    AnyCloud: TypeAlias = Cloud | azure.Cloud
    AnyMetadata: TypeAlias = Imds | azure.Metadata

# NODE_AGENT_ROOT moves the files under another directory (tests; never set on nodes).
ROOT = os.environ.get("NODE_AGENT_ROOT", "")
CONFIG_FILE = f"{ROOT}/etc/swarmstack/agent.json"
DAEMON_JSON = f"{ROOT}/etc/docker/daemon.json"
PRUNE_TIMER = "swarmstack-docker-prune.timer"
BOOT_TIMEOUT = 3600.0
POLL = 5.0

log = logging.getLogger("swarmstack-agent")


class AgentError(Exception):
    """A condition the agent cannot resolve by waiting; the message says what to do."""


@dataclass
class Settings:
    """/etc/swarmstack/agent.json: static per spec (from the user data)."""

    init: dict[str, Any] = field(default_factory=dict)  # Engine API /swarm/init options
    fixed_ports: list[int] = field(default_factory=list)
    local_log_opts: dict[str, str] = field(default_factory=dict)
    drain_managers: bool = False

    @classmethod
    def load(cls, path: str = CONFIG_FILE) -> Settings:
        with open(path, encoding="utf-8") as file:
            return cls(**json.load(file))


def identity(imds: AnyMetadata) -> d.NodeIdentity:
    def required(path: str) -> str:
        value = imds.get(path)
        if not value:
            raise AgentError(f"instance metadata {path} is missing (instance tags enabled?)")
        return value

    return d.NodeIdentity(
        instance_id=required("meta-data/instance-id"),
        stack=required(f"meta-data/tags/instance/{CLUSTER_TAG}"),
        role=required(f"meta-data/tags/instance/{ROLE_TAG}"),
        zone=required("meta-data/placement/availability-zone"),
        region=required("meta-data/placement/region"),
        address=required("meta-data/local-ipv4"),
    )


# --- configure: console parameters, before dockerd first reads daemon.json -----------------


def configure(imds: AnyMetadata, settings: Settings, daemon_json: str = DAEMON_JSON) -> None:
    """Log driver and prune timer from the tags. Never fails the boot: without metadata the
    node logs locally (and says so)."""
    try:
        region = imds.get("meta-data/placement/region") or ""
        log_group = imds.get(f"meta-data/tags/instance/{LOG_GROUP_TAG}")
        prune = imds.get(f"meta-data/tags/instance/{SYSTEM_PRUNE_TAG}") == "yes"
    except OSError as error:
        log.warning("instance metadata unreachable (%s): local log driver, no prune", error)
        region, log_group, prune = "", None, False
    with open(daemon_json, encoding="utf-8") as file:
        config = json.load(file)
    wanted = d.daemon_config_for(
        config, region, log_group if region else None, settings.local_log_opts
    )
    if wanted != config:
        with open(daemon_json + ".new", "w", encoding="utf-8") as file:
            json.dump(wanted, file, indent=2, sort_keys=True)
            file.write("\n")
        os.replace(daemon_json + ".new", daemon_json)
    log.info("containers log with %s", wanted["log-driver"])
    if prune:
        subprocess.run(["systemctl", "enable", "--now", PRUNE_TIMER], check=False)
        log.info("daily docker system prune enabled")


# --- boot ------------------------------------------------------------------------------------


class Booter:
    def __init__(
        self,
        me: d.NodeIdentity,
        engine: Engine,
        cloud: AnyCloud,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.me = me
        self.engine = engine
        self.cloud = cloud
        self.settings = settings
        self.clock = clock
        self.sleep = sleep

    def run(self) -> None:
        deadline = self.clock() + BOOT_TIMEOUT
        while True:
            if self.clock() > deadline:
                raise AgentError("the swarm did not form within an hour; see the log above")
            local = self.engine.local_swarm()
            step = d.boot_step(self.me, local, self.cloud.swarm_record())
            log.info("boot: %s (local swarm state %s)", step, local.state)
            if step == "done":
                break
            if step.startswith("fail:"):
                raise AgentError(step[5:])
            if step == "init":
                self.init()
            elif step == "publish":
                self.publish()
            elif step == "join":
                self.join()
            else:
                self.sleep(POLL)
        self.wait_ready()
        try:
            self.cloud.signal_ready(self.me.role, self.me.instance_id)
        except Exception as error:
            log.info("no resource signal sent: %s", error)
        log.info("in the swarm and ready")

    def lease(self, name: str) -> d.Lease | None:
        """Our lease on ``name`` (taken now or held), or None while another holder has it."""
        decision = d.lease_decision(self.cloud.leases(name), self.me.instance_id, self.clock())
        lease = d.Lease(decision.generation, self.me.instance_id, self.clock())
        if decision.verdict == "held":
            self.cloud.renew_lease(name, lease)
            return lease
        if decision.verdict == "take" and self.cloud.create_lease(name, lease):
            return lease
        log.info("lease %s: held by %s, waiting", name, decision.holder or "another node")
        self.sleep(POLL)
        return None

    def init(self) -> None:
        """Only the holder of the init lease creates the swarm."""
        if self.lease("init") is None:
            return
        self.engine.init(self.me.address, self.settings.init)
        self.publish()

    def publish(self) -> None:
        """Store the tokens and the record, if the init lease is still ours."""
        leases = self.cloud.leases("init")
        decision = d.lease_decision(leases, self.me.instance_id, self.clock())
        if decision.verdict != "held":
            raise AgentError(
                "this manager formed a swarm but lost the init lease to another manager; "
                "make it leave (docker swarm leave --force) and restart swarmstack-agent"
            )
        self.cloud.put_tokens(self.engine.join_tokens())
        local = self.engine.local_swarm()
        self.cloud.put_swarm_record(
            d.SwarmRecord(local.cluster_id, (f"{self.me.address}:{SWARM_PORT}",))
        )
        self.cloud.renew_lease(
            "init", d.Lease(decision.generation, self.me.instance_id, self.clock(), released=True)
        )
        log.info("swarm %s formed; tokens stored as SecureString parameters", local.cluster_id[:12])

    def join(self) -> None:
        """Workers join at once; managers one at a time (each changes raft membership)."""
        lease = None
        if self.me.role == "manager":
            lease = self.lease("manager-join")
            if lease is None:
                return
        record = self.cloud.swarm_record()
        if record is None:
            return
        try:
            self.engine.join(self.me.address, record.managers, self.cloud.token(self.me.role))
            if lease is not None:
                self.wait_ready()
        finally:
            if lease is not None:
                self.cloud.renew_lease(
                    "manager-join",
                    d.Lease(lease.generation, self.me.instance_id, self.clock(), released=True),
                )

    def wait_ready(self) -> None:
        """Managers: Ready and reachable in the managers' own view; workers: active."""
        for _ in range(120):
            local = self.engine.local_swarm()
            if local.state == "active" and not local.is_manager and self.me.role == "worker":
                return
            if local.is_manager:
                mine = [n for n in self.engine.nodes() if n.id == local.node_id]
                if mine and mine[0].state == "ready" and mine[0].reachability == "reachable":
                    return
            self.sleep(1.0)
        raise AgentError("joined, but the node did not become Ready within 2 minutes")


# --- heal (managers): the leader acts ----------------------------------------------------


class Healer:
    def __init__(
        self,
        me: d.NodeIdentity,
        engine: Engine,
        cloud: AnyCloud,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        resources: StackResources | None = None,
    ) -> None:
        self.me = me
        self.engine = engine
        self.cloud = cloud
        self.settings = settings
        self.clock = clock
        self.down_since: dict[str, float] = {}
        self._resources = resources  # found in the stack on first use

    @property
    def resources(self) -> StackResources:
        if self._resources is None:
            self._resources = self.cloud.resources()
        return self._resources

    def is_leader(self) -> bool:
        local = self.engine.local_swarm()
        if not local.is_manager:
            return False
        return any(n.leader and n.id == local.node_id for n in self.engine.nodes())

    def tick(self) -> None:
        """One round of the leader's duties; followers only watch."""
        if not self.is_leader():
            self.down_since = {}
            return
        instances = self.cloud.instances()
        nodes = self.engine.nodes()
        self.label(nodes, instances)
        self.publish_managers(nodes)
        self.handle_notices(instances)
        self.sweep(self.engine.nodes(), instances)
        self.follow_services()

    def label(self, nodes: list[d.SwarmNode], instances: list[d.Instance]) -> None:
        for node in d.label_updates(nodes, instances):
            log.info("labels of node %s: %s", node.id[:12], node.labels)
            self.engine.update_node(node.id, Labels=node.labels)
        if self.settings.drain_managers and any(n.role == "worker" for n in nodes):
            for node in nodes:
                if node.role == "manager" and node.availability == "active":
                    self.engine.update_node(node.id, Availability="drain")

    def publish_managers(self, nodes: list[d.SwarmNode]) -> None:
        managers = d.manager_addresses(nodes, SWARM_PORT)
        record = self.cloud.swarm_record()
        if record is not None and managers and set(managers) != set(record.managers):
            self.cloud.put_swarm_record(d.SwarmRecord(record.cluster_id, managers))

    def handle_notices(self, instances: list[d.Instance]) -> None:
        queue = self.resources.queue_url
        if not queue:
            return
        addresses = {i.id: i.address for i in instances}
        for notice in self.cloud.notices(queue, wait=1):
            self.leaving(queue, notice, addresses.get(notice.instance_id, ""))

    def leaving(self, queue: str, notice: d.Notice, address: str) -> None:
        for _ in range(30):  # each step changes the facts; ask again after each
            nodes = self.engine.nodes()
            node = d.find_node(nodes, notice.instance_id, address)
            step = d.leaving_step(notice, node, nodes)
            log.info("instance %s leaving: %s", notice.instance_id or "?", step)
            if step == "discard":
                self.cloud.done_with(queue, notice)
                return
            if step == "complete":
                self.cloud.complete(notice)
                self.cloud.done_with(queue, notice)
                return
            if step == "wait":
                self.cloud.heartbeat(notice)
                self.cloud.retry_later(queue, notice, 15)
                return
            assert node is not None
            if step == "drain":
                self.engine.update_node(node.id, Availability="drain")
                self.wait_drained(node.id)
            elif step == "demote":
                myself = node.id == self.engine.local_swarm().node_id
                self.engine.update_node(node.id, Role="worker")
                if myself:
                    # The leader's own instance is leaving: demoted, it can no longer act on
                    # the swarm. The next leader removes the node; hand the notice over now
                    # rather than after the queue's visibility timeout.
                    self.cloud.retry_later(queue, notice, 0)
                    return
                time.sleep(2)  # raft removes the member; the node then reports as a worker
            elif step == "remove":
                self.engine.remove_node(node.id)
        self.cloud.retry_later(queue, notice, 15)

    def wait_drained(self, node_id: str, seconds: int = 20) -> None:
        """Give the tasks a moment to move; a terminating instance is removed regardless."""
        for _ in range(seconds):
            if self.engine.running_tasks(node_id) == 0:
                return
            time.sleep(1)

    def sweep(self, nodes: list[d.SwarmNode], instances: list[d.Instance]) -> None:
        states = {i.id: i.state for i in instances}
        remove, self.down_since = d.sweep(nodes, states, self.down_since, self.clock())
        for node in remove:
            log.info("node %s: Down and instance %s gone; removing", node.id[:12], node.instance_id)
            if node.role == "manager":
                self.engine.update_node(node.id, Role="worker")
            self.engine.remove_node(node.id)

    def follow_services(self) -> None:
        resources = self.resources
        if not resources.load_balancer:
            return
        wanted = d.ingress_ports(self.engine.services())
        managed = self.cloud.managed_listeners(resources.load_balancer)
        add, remove = d.port_changes(wanted, set(self.settings.fixed_ports), set(managed))
        role = "worker" if self.has_workers() else "manager"
        for port in add:
            log.info("service port %d published: listener and target group", port)
            self.cloud.open_port(resources, port, role)
        for port in remove:
            log.info("service port %d gone: listener and target group removed", port)
            listener, group = managed[port]
            self.cloud.close_port(resources, port, listener, group)

    def has_workers(self) -> bool:
        return any(n.role == "worker" for n in self.engine.nodes())


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="swarmstack-agent: %(message)s")
    command = argv[0] if argv else ""
    if command not in ("configure", "run"):
        print("usage: swarmstack-agent configure|run", file=sys.stderr)
        return 2
    try:
        settings = Settings.load()
        imds = Imds()
        if command == "configure":
            configure(imds, settings)
            return 0
        me = identity(imds)
        cloud = Cloud(me.stack, me.region)
        engine = Engine()
        Booter(me, engine, cloud, settings).run()
        if me.role != "manager":
            return 0
        healer = Healer(me, engine, cloud, settings)
        while True:
            try:
                healer.tick()
            except Exception:
                log.exception("healing round failed; retrying")
            time.sleep(POLL)
    except AgentError as error:
        log.error("%s", error)
        return 1
