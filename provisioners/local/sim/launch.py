"""Create the spec's stack on the simulated AWS through launch-stack's own building blocks
(swarmstack.aws: template body, parameter values, change set, watch), so what runs on the
machines is exactly what `swarmstack aws launch-stack` would create on AWS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

from ....aws import stack_template
from ....aws.changesets import create_change_set, execute_change_set
from ....aws.events import watch_stack
from ....aws.parameters import parameter_values
from ....aws.session import AwsConnection, AwsSettings
from ....aws.stacks import describe_stack, stack_tags
from ....aws.template_upload import template_source
from ....errors import StackOperationFailed, UsageError
from ....spec import ClusterSpec
from ....templates.aws import parameters as p
from .environment import environment

# What to put in the environment to talk to the simulation (moto accepts any credentials;
# these keep a user's real ones out of it). Also what `local up` tells users to export.
SIM_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}
SIM_KEY_NAME = "swarmstack-sim"
_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def sim_credentials() -> contextlib.AbstractContextManager[None]:
    """The fake credentials in this process's environment for the duration."""
    return environment(SIM_CREDENTIALS, _CLEARED)


def create_stack(
    spec: ClusterSpec,
    endpoint: str,
    region: str,
    progress: Callable[[str], None],
    overrides: Mapping[str, str] | None = None,
) -> str:
    """Create the stack unless it exists; returns its status once settled.

    ``overrides`` are template parameter values set over the spec's defaults, as a console
    user types them (e.g. EnableSystemPrune=yes on a template rendered with prune off)."""
    with sim_credentials():
        connection = AwsConnection(AwsSettings(region=region, endpoint_url=endpoint))
        cfn = connection.cloudformation()
        existing = describe_stack(cfn, spec.name)
        if existing is not None:
            progress(f"stack {spec.name} exists ({existing.status})")
            return existing.status
        ec2 = connection.ec2()
        if not spec.key_name:
            # A key pair the launch templates name; nobody logs in with it (no SSH needed).
            if not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [SIM_KEY_NAME]}])[
                "KeyPairs"
            ]:
                ec2.create_key_pair(KeyName=SIM_KEY_NAME)
            spec = spec.model_copy(update={"key_name": SIM_KEY_NAME})
        body = stack_template.render_body(spec)
        parameters = parameter_values(body)
        unknown = sorted(set(overrides or {}) - set(parameters))
        if unknown:
            raise UsageError(
                f"parameter {unknown[0]}: not a parameter of the stack's template "
                f"(it has {', '.join(sorted(parameters))})"
            )
        parameters.update(overrides or {})
        zones = ec2.describe_availability_zones()["AvailabilityZones"]
        for parameter, zone in zip(p.AVAILABILITY_ZONES, zones, strict=False):
            if not parameters.get(parameter):
                parameters[parameter] = zone["ZoneName"]
        source = template_source(connection, body, spec.name, None)
        progress(f"creating stack {spec.name} on the simulated AWS ({len(body.encode()):,} bytes)")
        change_set = create_change_set(
            cfn,
            stack_name=spec.name,
            kind="CREATE",
            template=source,
            parameters=parameters,
            tags=stack_tags(spec.name, spec.tags),
        )
        execute_change_set(cfn, change_set)
        outcome = watch_stack(cfn, change_set.stack_id, on_event=lambda event: None)
        if not outcome.succeeded:
            raise StackOperationFailed(
                f"stack {spec.name} on the simulated AWS is {outcome.status}: {outcome.reason}"
            )
        progress(f"stack {spec.name}: {outcome.status}")
        return outcome.status
