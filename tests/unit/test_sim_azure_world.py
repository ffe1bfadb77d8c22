"""The simulated Azure's pure rules: scale-set host names, Terminate event timing, and who a
role assignment lets in (scope containment, role, principal)."""

from __future__ import annotations

import pytest

from swarmstack.provisioners.local.sim.azure.world import World, duration_seconds

VMSS = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets/ss"
SECRET = "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv/secrets/tok"
OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
USER = "4633458b-17de-408a-b874-0445c86b69e6"


def _world_with_scale_set(prefix: str = "swarm-w") -> World:
    world = World()
    world.rm.resources[VMSS.lower()] = {
        "id": VMSS,
        "name": "ss",
        "properties": {"virtualMachineProfile": {"osProfile": {"computerNamePrefix": prefix}}},
    }
    return world


@pytest.mark.parametrize(
    ("number", "name"), [("0", "swarm-w000000"), ("35", "swarm-w00000z"), ("36", "swarm-w000010")]
)
def test_host_names_are_the_prefix_and_the_instance_id_in_base_36(number: str, name: str) -> None:
    assert _world_with_scale_set().computer_name(VMSS.lower(), number) == name


@pytest.mark.parametrize(
    ("duration", "seconds"), [("PT5M", 300), ("PT15M", 900), ("PT90S", 90), ("PT1H", 3600), ("", 0)]
)
def test_not_before_timeouts_are_iso_durations(duration: str, seconds: int) -> None:
    assert duration_seconds(duration) == seconds


def _assign(world: World, scope: str, role: str, principal: str) -> None:
    rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/a-{principal}-{role[:4]}"
    world.rm.resources[rid.lower()] = {
        "properties": {
            "principalId": principal,
            "roleDefinitionId": f"/subscriptions/s/providers/x/roleDefinitions/{role}",
        }
    }


def test_a_role_assignment_lets_its_principal_in_below_its_scope_only() -> None:
    world = World()
    _assign(world, SECRET, USER, "p-worker")
    _assign(world, SECRET, OFFICER, "p-manager")
    world.tokens.update({"tw": "p-worker", "tm": "p-manager"})
    assert world.allowed("tw", "secret", SECRET, "read")
    assert not world.allowed("tw", "secret", SECRET, "write")  # Secrets User reads only
    assert world.allowed("tm", "secret", SECRET, "write")
    assert not world.allowed("tw", "secret", SECRET + "2", "read")  # a sibling, not below
    assert not world.allowed("nobody", "secret", SECRET, "read")
    assert not world.allowed("tw", "container", SECRET, "read")  # the role is about secrets
