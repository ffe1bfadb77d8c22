"""build_template: the whole stack from one ClusterSpec, assembled from the concern modules."""

from __future__ import annotations

from collections.abc import Callable

from troposphere import Template

from ...spec import ClusterSpec, Role
from .checks import check_spec_for_aws
from .compute import add_group, add_launch_template
from .conditions import add_conditions
from .iam import add_log_permissions, add_node_identity
from .lifecycle import add_lifecycle
from .load_balancer import add_load_balancer
from .logs import add_log_group
from .network import add_network
from .outputs import add_outputs
from .parameters import add_parameters, add_rules
from .security_groups import add_security_groups
from .selfmanaging import add_agent_permissions, add_signal_policies, shared_user_data
from .storage import add_storage
from .userdata import user_data_for

DESCRIPTION = (
    "swarmstack: a hardened, highly available Docker swarm (managers and workers in Auto "
    "Scaling groups, network load balancer for published ports)."
)


def build_template(
    spec: ClusterSpec, *, user_data: Callable[[Role], str] | None = None
) -> Template:
    """The CloudFormation stack for `spec`; spec values become the parameters' defaults.

    ``user_data(role)`` returns the base64 user data of a "manager" or "worker" node; it is
    static per role (no secrets, nothing stack-specific). Raises SpecError for spec values
    that AWS cannot use. Pure: no AWS calls.
    """
    check_spec_for_aws(spec)
    template = Template(Description=DESCRIPTION)
    # One copy for both launch templates (the role is an instance tag).
    render_user_data = shared_user_data(template, user_data or user_data_for(spec))
    template.set_version("2010-09-09")
    add_parameters(template, spec)
    add_rules(template)
    add_conditions(template)

    network = add_network(template, spec)
    # Nodes and the load balancer need a new VPC's way to the internet before they start.
    internet = network.internet_ready
    groups = add_security_groups(template, spec, network)
    add_storage(template, spec, network.vpc_id, groups.node)
    log_group = add_log_group(template, spec)
    lifecycle = add_lifecycle(template, spec)
    balancing = (
        add_load_balancer(template, spec, network, groups.load_balancer, internet)
        if groups.load_balancer is not None
        else None
    )

    roles: tuple[Role, ...] = ("manager", "worker")
    identities = {role: add_node_identity(template, spec, role) for role in roles}
    add_log_permissions(template, [identity.role for identity in identities.values()], log_group)
    role_groups = {"manager": [groups.node, groups.manager], "worker": [groups.node]}
    asgs = {}
    for role, identity in identities.items():
        launch_template = add_launch_template(
            template, spec, role, identity, role_groups[role], render_user_data
        )
        target_groups = balancing.target_groups if balancing and role == "worker" else []
        asgs[role] = group = add_group(
            template,
            spec,
            role,
            launch_template,
            network,
            lifecycle,
            log_group,
            target_groups,
            internet,
        )
        add_signal_policies(group, role)
    add_agent_permissions(
        template,
        identities["manager"].role,
        identities["worker"].role,
        [asgs["manager"], asgs["worker"]],
        lifecycle.queue,
        balancing.load_balancer if balancing else None,
        groups.load_balancer,
    )

    security_groups = {
        "Node": (groups.node, "Security group of every swarm node (swarm ports, SSH)"),
        "Manager": (groups.manager, "Security group of the managers"),
    }
    if groups.load_balancer is not None:
        security_groups["LoadBalancer"] = (
            groups.load_balancer,
            "Security group of the load balancer",
        )
    add_outputs(
        template,
        vpc_id=network.vpc_id,
        manager_group=asgs["manager"],
        worker_group=asgs["worker"],
        security_groups=security_groups,
        load_balancer=balancing.load_balancer if balancing else None,
        log_group=log_group,
        lifecycle_queue=lifecycle.queue,
    )
    return template
