"""One copy of the Engine API's /swarm/init and /swarm/join bodies for both ways a swarm forms:
the SSH bootstrap's host commands and the AWS node agent."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

from swarmstack import contract
from swarmstack.cloudinit.agent import AGENT_MODULES, agent_settings, shipped_source
from swarmstack.provisioners import swarmapi
from swarmstack.provisioners.commands import MANAGER_TOKEN, WORKER_TOKEN, step_commands
from swarmstack.provisioners.swarm import Step
from swarmstack.spec import ClusterSpec

OPTIONS = swarmapi.init_options(
    default_addr_pool=["10.20.0.0/16"],
    subnet_size=26,
    data_path_port=4790,
    cert_expiry_hours=48,
    autolock=True,
)


def test_init_body_binds_the_swarm_port_to_the_private_address() -> None:
    body = swarmapi.init_body("10.0.1.5", OPTIONS)
    assert body == {
        "ListenAddr": f"10.0.1.5:{contract.SWARM_PORT}",
        "AdvertiseAddr": "10.0.1.5",
        "DefaultAddrPool": ["10.20.0.0/16"],
        "SubnetSize": 26,
        "DataPathPort": 4790,
        "AutoLockManagers": True,
        "Spec": {"CAConfig": {"NodeCertExpiry": 48 * 3600 * 10**9}},
    }


def test_join_body_names_managers_and_token() -> None:
    body = swarmapi.join_body("10.0.2.7", ("10.0.1.5", "10.0.1.6"), "TOKEN")
    assert body == {
        "ListenAddr": f"10.0.2.7:{contract.SWARM_PORT}",
        "AdvertiseAddr": "10.0.2.7",
        "RemoteAddrs": ["10.0.1.5", "10.0.1.6"],
        "JoinToken": "TOKEN",
    }


def test_the_ssh_bootstrap_sends_exactly_these_bodies() -> None:
    init = Step(
        id="init",
        action="init",
        host="198.18.0.11",
        target="198.18.0.11",
        args={
            "advertise_addr": "198.18.0.11",
            "default_addr_pool": ["10.20.0.0/16"],
            "default_addr_pool_mask_length": 26,
            "data_path_port": 4790,
            "cert_expiry_hours": 48,
            "autolock": True,
        },
    )
    (command,) = step_commands(init)
    assert json.loads(command.stdin) == swarmapi.init_body("198.18.0.11", OPTIONS)
    for role, token in (("worker", WORKER_TOKEN), ("manager", MANAGER_TOKEN)):
        join = Step(
            id=f"join-{role}",
            action="join",
            host="198.18.0.12",
            target="198.18.0.12",
            args={"advertise_addr": "198.18.0.12", "remote": ["198.18.0.11"], "role": role},
        )
        (command,) = step_commands(join)
        assert json.loads(command.stdin) == swarmapi.join_body(
            "198.18.0.12", ["198.18.0.11"], token
        )


def test_the_node_agent_gets_the_same_init_options_autolock_off() -> None:
    spec = ClusterSpec.model_validate(
        {
            "default_addr_pool": ["10.20.0.0/16"],
            "default_addr_pool_mask_length": 26,
            "data_path_port": 4790,
            "cert_expiry_hours": 48,
        }
    )
    assert agent_settings(spec)["init"] == {**OPTIONS, "AutoLockManagers": False}


def test_it_is_shipped_to_the_nodes_and_needs_only_the_standard_library() -> None:
    assert "swarmstack.provisioners.swarmapi" in AGENT_MODULES
    tree = ast.parse(Path(swarmapi.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] in sys.stdlib_module_names for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            assert (node.module or "").split(".")[0] in sys.stdlib_module_names | {"__future__"}
        elif isinstance(node, ast.ImportFrom):
            assert node.module == "contract", node.module  # shipped with the agent too
    assert "def join_body" in shipped_source("swarmstack.provisioners.swarmapi")
