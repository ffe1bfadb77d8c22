"""Corrections to moto (5.2) for deleting a stack, part of corrections.py's set.

- AWS's DeleteStack deletes every resource of the stack (but those with DeletionPolicy
  Retain), each after the resources that refer to it. moto has no CloudFormation delete for
  six of the network types the swarm template uses and skips them silently: the route table
  stays, so the VPC's delete fails with DependencyViolation and the whole DeleteStack with it.
  Here each gets the delete AWS performs; one that AWS would refuse for now (a route table
  that still has a subnet, an attached internet gateway) raises moto's own DependencyViolation,
  and moto's delete loop tries it again after the others, as CloudFormation's order would.
- AWS's DescribeStackResources on a deleted stack (by its id) lists what the stack had, each
  DELETE_COMPLETE, or DELETE_SKIPPED for a resource its DeletionPolicy retained; it changes
  nothing. moto parses its template again on that call and so creates every resource anew
  (a deleted stack's mount targets and VPC came back), all reported DELETE_COMPLETE. Here a
  stack's resources are noted as it is deleted and a deleted stack is described from that.
"""

from __future__ import annotations

from contextlib import suppress
from types import SimpleNamespace
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import responses as cfn_responses
from moto.core.responses import ActionResult
from moto.ec2.exceptions import (
    DependencyViolationError,
    InvalidPermissionNotFoundError,
    InvalidRouteTableIdError,
)
from moto.ec2.models import ec2_backends
from moto.ec2.models.internet_gateways import InternetGateway
from moto.ec2.models.route_tables import Route, RouteTable
from moto.ec2.models.security_groups import SecurityGroupIngress
from moto.ec2.models.subnets import SubnetRouteTableAssociation
from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

Patch = tuple[Any, str, Any]


def stack_deletion_corrections() -> list[Patch]:
    """(owner, attribute, replacement) for each correction (see the module's docstring)."""
    return [
        (cfn_models.Stack, "delete", _delete_stack),
        (
            cfn_responses.CloudFormationResponse,
            "describe_stack_resources",
            _describe_stack_resources,
        ),
        (SubnetRouteTableAssociation, "delete", _delete_association),
        (Route, "delete", _delete_route),
        (RouteTable, "delete", _delete_route_table),
        (VPCGatewayAttachment, "delete", _delete_gateway_attachment),
        (InternetGateway, "delete", _delete_internet_gateway),
        (SecurityGroupIngress, "delete", _delete_ingress_rule),
    ]


def _backend(account_id: str, region_name: str) -> Any:
    return ec2_backends[account_id][region_name]


def _delete_association(self: Any, account_id: str, region_name: str) -> None:
    """AWS::EC2::SubnetRouteTableAssociation: the subnet goes back to the main table."""
    associations = _backend(account_id, region_name).subnet_associations
    associations.pop(f"{self.route_table_id}:{self.subnet_id}", None)


def _delete_route(self: Any, account_id: str, region_name: str) -> None:
    with suppress(InvalidRouteTableIdError):  # the table went first, and its routes with it
        _backend(account_id, region_name).delete_route(
            self.route_table.id, self.destination_cidr_block
        )


def _delete_route_table(self: Any, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if any(key.startswith(f"{self.id}:") for key in backend.subnet_associations):
        raise DependencyViolationError(f"The routeTable '{self.id}' has dependencies")
    backend.delete_route_table(self.id)


def _delete_gateway_attachment(self: Any, account_id: str, region_name: str) -> None:
    """AWS::EC2::VPCGatewayAttachment: the internet gateway is detached from the VPC."""
    backend = _backend(account_id, region_name)
    if self.gateway_id in backend.internet_gateways:
        gateway = backend.internet_gateways[self.gateway_id]
        if gateway.vpc is not None and gateway.vpc.id == self.vpc_id:
            backend.detach_internet_gateway(self.gateway_id, self.vpc_id)


def _delete_internet_gateway(self: Any, account_id: str, region_name: str) -> None:
    # Refused (DependencyViolation) while still attached, as on AWS.
    _backend(account_id, region_name).delete_internet_gateway(self.id)


def _delete_ingress_rule(self: Any, account_id: str, region_name: str) -> None:
    """AWS::EC2::SecurityGroupIngress: the rule is revoked (its group may be gone already)."""
    backend = _backend(account_id, region_name)
    group = self.security_group
    if group.id not in {g.id for g in backend.describe_security_groups()}:
        return
    properties = self.properties
    source = properties.get("SourceSecurityGroupId")
    cidr = properties.get("CidrIp")
    with suppress(InvalidPermissionNotFoundError):  # revoked already
        backend.revoke_security_group_ingress(
            group_name_or_id=group.id,
            ip_protocol=str(properties["IpProtocol"]),
            from_port=properties.get("FromPort"),
            to_port=properties.get("ToPort"),
            ip_ranges=[{"CidrIp": cidr, "Description": properties.get("Description")}]
            if cidr
            else [],
            source_groups=[{"GroupId": source}] if source else [],
        )


# --- a deleted stack's resources ---------------------------------------------------------------

# moto's own Stack.delete and DescribeStackResources, taken before any correction replaces them.
_DELETE_STACK = cfn_models.Stack.delete
_DESCRIBE_STACK_RESOURCES = cfn_responses.CloudFormationResponse.describe_stack_resources


def _delete_stack(self: Any) -> None:
    """Note what the stack has (parsed resources only: a false condition's never existed)."""
    templates = self.resource_map._resource_json_map
    self.deleted_resources = [
        SimpleNamespace(
            logical_resource_id=logical_id,
            physical_resource_id=getattr(resource, "physical_resource_id", None),
            cf_resource_type=templates[logical_id]["Type"],
            status="DELETE_SKIPPED"
            if templates[logical_id].get("DeletionPolicy") == "Retain"
            else "DELETE_COMPLETE",
        )
        for logical_id, resource in self.resource_map._parsed_resources.items()
        if logical_id in templates and resource is not None
    ]
    _DELETE_STACK(self)


def _describe_stack_resources(self: Any) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    noted = getattr(stack, "deleted_resources", None)
    if stack.status != "DELETE_COMPLETE" or noted is None:
        result: ActionResult = _DESCRIBE_STACK_RESOURCES(self)
        return result
    wanted = self._get_param("LogicalResourceId")
    rows = []
    for resource in noted:
        if wanted is None or resource.logical_resource_id == wanted:
            row = cfn_responses.StackResourceDTO(stack, resource)
            row.resource_status = resource.status
            rows.append(row)
    return ActionResult({"StackResources": rows})
