"""Corrections to moto (5.2) where it falls short of what AWS does, for the simulation and the
service tests alike. Each says what AWS does.

moto's server runs in the process that applies these (ThreadedMotoServer), so the fake is
corrected by replacing methods of its model classes:

    for owner, name, value in fake_corrections():      # ELB type, lifecycle hooks and actions
        setattr(owner, name, value)                    # tests: monkeypatch.setattr(...)
    seed_public_image_parameters(region, image_id)     # /aws/service/... SSM parameters

Lifecycle hooks (the part AWS users depend on for clean scale-in):
- AWS creates the hooks of a group's LifecycleHookSpecificationList; moto ignores the list.
- AWS keeps a hook's NotificationTargetARN, RoleARN and NotificationMetadata; moto hard-codes
  the first two and drops the third.
- AWS posts a test notification to the target when a hook is created, and a message per
  lifecycle action (lifecycle.py has the formats); moto sends nothing.
- AWS holds an instance leaving the group (scale-in or TerminateInstanceInAutoScalingGroup) in
  Terminating:Wait while a termination hook exists, until CompleteLifecycleAction or the
  heartbeat timeout (RecordLifecycleActionHeartbeat extends it); only then is the EC2 instance
  terminated. moto terminates at once and has neither API call.

Console output (where the CLI reads the host keys cloud-init printed at boot):
- AWS returns each instance's own console (GetConsoleOutput); moto returns one canned Xen boot
  log for every instance. Here an instance's console is what INSTANCE_CONSOLES holds for it
  (the simulation or a test writes it), else moto's canned log.
IAM and stack resources (what people inspecting the stack rely on):
- AWS keeps a role's inline policies (AWS::IAM::Role Policies) as JSON documents, as
  PutRolePolicy does; moto keeps the template's dict and GetRolePolicy returns its Python repr.
- AWS's DescribeStackResource finds a resource of the stack by logical id; moto fails with an
  internal error when the stack has a resource whose condition is false (a None in its map).
- AWS computes a stack's outputs from the template a change set brought (launch-stack creates
  and updates through change sets); moto keeps the outputs of the stack's first template,
  which for a stack created by a change set are none.

The first manager's claim (SSM PutParameter without Overwrite):
- AWS creates a parameter atomically: of callers racing to create the same name, exactly one
  succeeds and the others get ParameterAlreadyExists. moto checks and stores without a lock, so
  two threads of its server can both "create" it (two managers both ran `swarm init`); here
  PutParameter is serialised.

Deleting a stack (stack_deletion.py): AWS deletes every resource of the stack; moto skips
route tables, routes, their subnet associations, internet gateways and their attachments and
ingress rules, so the VPC's delete and the whole DeleteStack fail. And describing a deleted
stack's resources makes moto create them all again.

Resource signals (what the node agent sends once its node is Ready):
- AWS accepts SignalResource for a resource of the stack and records the stack event
  "Received SUCCESS signal with UniqueId <id>" on it; moto (5.2) has no SignalResource and
  completes a group without waiting for its CreationPolicy, so the signal is recorded whenever
  it comes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.autoscaling import models as asg_models
from moto.autoscaling import responses as asg_responses
from moto.autoscaling.exceptions import ValidationError
from moto.cloudformation import models as cfn_models
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import ValidationError as StackValidationError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.core.types import Base64EncodedString
from moto.core.utils import utcnow
from moto.ec2.models import EC2Backend
from moto.ec2.responses import general as ec2_general
from moto.elbv2 import models as elbv2_models
from moto.iam import models as iam_models
from moto.sqs.models import sqs_backends
from moto.ssm.models import Parameter, SimpleSystemManagerBackend, ssm_backends

from . import lifecycle
from .stack_deletion import stack_deletion_corrections

Patch = tuple[Any, str, Any]
# Instance id -> its console output so far (see the module's docstring).
INSTANCE_CONSOLES: dict[str, str] = {}


def fake_corrections() -> list[Patch]:
    """(owner, attribute, replacement) for every correction; apply with setattr."""
    return [
        (
            elbv2_models.FakeLoadBalancer,
            "create_from_cloudformation_json",
            classmethod(_load_balancer_from_cloudformation),
        ),
        *_lifecycle_patches(),
        (cfn_responses.CloudFormationResponse, "signal_resource", _signal_resource),
        (ec2_general.General, "get_console_output", _console_output),
        (
            iam_models.Role,
            "create_from_cloudformation_json",
            classmethod(
                _after_cloudformation_create(
                    _function_of(iam_models.Role, "create_from_cloudformation_json"),
                    _policies_as_json,
                )
            ),
        ),
        (cfn_models.CloudFormationBackend, "describe_stack_resource", _describe_stack_resource),
        (cfn_models.CloudFormationBackend, "execute_change_set", _execute_change_set),
        (SimpleSystemManagerBackend, "put_parameter", _put_parameter),
        *stack_deletion_corrections(),
    ]


# moto's own PutParameter, taken before any correction replaces it.
_PUT_PARAMETER = SimpleSystemManagerBackend.put_parameter
_put_parameter_lock = threading.RLock()


def _put_parameter(self: Any, *args: Any, **kwargs: Any) -> Any:
    """PutParameter as one atomic step (see the module's docstring)."""
    with _put_parameter_lock:
        return _PUT_PARAMETER(self, *args, **kwargs)


def _function_of(owner: Any, name: str) -> Callable[..., Any]:
    """The function behind a classmethod, to wrap it."""
    function: Callable[..., Any] = getattr(owner, name).__func__
    return function


def apply_fake_corrections() -> None:
    """For a process that owns its moto server for good (the simulation)."""
    for owner, name, value in fake_corrections():
        setattr(owner, name, value)


def _console_output(self: Any) -> ActionResult:
    """AWS: the instance's own console output, base64-encoded (the instance must exist)."""
    instance = self.ec2_backend.get_instance(self._get_param("InstanceId"))
    text = INSTANCE_CONSOLES.get(instance.id, ec2_general.SAMPLE_CONSOLE_OUTPUT)
    return ActionResult(
        {
            "InstanceId": instance.id,
            "Timestamp": utcnow(),
            "Output": Base64EncodedString.from_raw_string(text),
        }
    )


# --- load balancers ----------------------------------------------------------------------------


def _load_balancer_from_cloudformation(
    cls: Any,
    /,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    """AWS honours `Type: network`; moto builds every CloudFormation load balancer as an
    application load balancer and then rejects its TCP listeners."""
    properties = cloudformation_json["Properties"]
    return elbv2_models.elbv2_backends[account_id][region_name].create_load_balancer(
        resource_name,
        properties.get("SecurityGroups"),
        properties.get("Subnets"),
        scheme=properties.get("Scheme", "internet-facing"),
        loadbalancer_type=properties.get("Type", "application"),
    )


# --- IAM roles and stack resources ----------------------------------------------------------


def _after_cloudformation_create(
    original: Callable[..., Any], fix: Callable[[Any, Any, str, str], None]
) -> Callable[..., Any]:
    """moto's create_from_cloudformation_json, then ``fix(made, cloudformation_json,
    account_id, region_name)`` on what it made."""

    def create(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        made = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        fix(made, cloudformation_json, account_id, region_name)
        return made

    return create


def _policies_as_json(role: Any, _cloudformation_json: Any, _account: str, _region: str) -> None:
    """AWS stores the role's inline policies as JSON, as PutRolePolicy would."""
    for name, document in list(role.policies.items()):
        if not isinstance(document, str):
            role.policies[name] = json.dumps(document)


def _describe_stack_resource(self: Any, stack_name: str, logical_resource_id: str) -> Any:
    """AWS: the resource of that logical id; resources whose condition is false do not exist."""
    stack = self.get_stack(stack_name)
    for resource in stack.stack_resources:
        if getattr(resource, "logical_resource_id", None) == logical_resource_id:
            return stack, resource
    raise StackValidationError(
        stack_name, f"Resource {logical_resource_id} does not exist for stack {stack_name}"
    )


# moto's own ExecuteChangeSet, taken before any correction replaces it.
_EXECUTE_CHANGE_SET = cfn_models.CloudFormationBackend.execute_change_set


def _execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    """Then the outputs of the template the change set brought, as UpdateStack computes them."""
    _EXECUTE_CHANGE_SET(self, change_set_name, stack_name)
    change_set = self.change_sets.get(change_set_name) or next(
        c for c in self.change_sets.values() if c.change_set_name == change_set_name
    )
    stack = self.stacks[change_set.stack_id]
    stack._parse_template()
    stack.output_map = stack._create_output_map()


# --- resource signals -------------------------------------------------------------------------

SIGNAL_REASON = "Received {status} signal with UniqueId {unique_id}"


def _signal_resource(self: Any) -> ActionResult:
    """AWS: the stack (name or id) and its logical resource must exist, Status is SUCCESS or
    FAILURE; the signal becomes an event of that resource."""
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    logical_id = self._get_param("LogicalResourceId")
    unique_id = self._get_param("UniqueId")
    status = self._get_param("Status")
    if status not in ("SUCCESS", "FAILURE"):
        raise StackValidationError(message=f"Status {status!r}: must be SUCCESS or FAILURE")
    resources = dict(stack.resource_map._resource_json_map)
    if logical_id not in resources:
        raise StackValidationError(
            message=f"Resource {logical_id} does not exist for stack {stack.name}"
        )
    resource = stack.resource_map[logical_id]
    in_progress = (
        "UPDATE_IN_PROGRESS" if stack.status.startswith("UPDATE") else "CREATE_IN_PROGRESS"
    )
    stack.events.append(
        cfn_models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=getattr(resource, "physical_resource_id", None) or logical_id,
            resource_type=resources[logical_id].get("Type", ""),
            resource_status=in_progress,
            resource_status_reason=SIGNAL_REASON.format(status=status, unique_id=unique_id),
            resource_properties=None,
        )
    )
    return EmptyResult()


# --- public SSM parameters ---------------------------------------------------------------------

# Public image parameters of the distributions swarmstack supports, as every AWS account sees
# them (the stack's AmiId parameter defaults to the Debian one).
PUBLIC_IMAGE_PARAMETERS = (
    "/aws/service/debian/release/12/latest/amd64",
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",
)


def seed_public_image_parameters(region: str, image_id: str) -> None:
    """Every AWS account can read the distributions' public image parameters; moto knows only
    Amazon Linux's and refuses to create /aws/... names through the API, so they go into its
    in-process store, pointing at `image_id` (one of moto's own images)."""
    store = ssm_backends[DEFAULT_ACCOUNT_ID][region]._parameters
    for name in PUBLIC_IMAGE_PARAMETERS:
        store[name].append(
            Parameter(  # type: ignore[abstract]  # moto builds its own public ones this way
                account_id=DEFAULT_ACCOUNT_ID,
                name=name,
                value=image_id,
                parameter_type="String",
                description=None,
                allowed_pattern=None,
                keyid=None,
                last_modified_date=utcnow(),
                version=1,
                data_type="aws:ec2:image",
            )
        )


# --- lifecycle hooks and actions ---------------------------------------------------------------

_lock = threading.RLock()
_local = threading.local()  # .hold: instance ids whose EC2 termination a hook holds back


@dataclass
class _Pending:
    action: lifecycle.LifecycleAction
    backend: Any  # the AutoScalingBackend of the group
    deadline: float
    heartbeat: int
    timer: threading.Timer | None = field(default=None, repr=False)


_pending: dict[str, _Pending] = {}  # by token


def pending_actions() -> list[lifecycle.LifecycleAction]:
    """Lifecycle actions waiting for completion (for status and tests)."""
    with _lock:
        return [p.action for p in _pending.values()]


def _lifecycle_patches() -> list[Patch]:
    group = asg_models.FakeAutoScalingGroup
    backend = asg_models.AutoScalingBackend
    response = asg_responses.AutoScalingResponse
    return [
        (
            group,
            "create_from_cloudformation_json",
            classmethod(
                _after_cloudformation_create(
                    group.create_from_cloudformation_json.__func__,  # type: ignore[attr-defined]
                    _configure_hooks,
                )
            ),
        ),
        (group, "set_desired_capacity", _wrap_set_desired_capacity(group.set_desired_capacity)),
        (backend, "terminate_instance", _wrap_terminate_instance(backend.terminate_instance)),
        (
            backend,
            "delete_auto_scaling_group",
            _wrap_delete_group(backend.delete_auto_scaling_group),
        ),
        (EC2Backend, "terminate_instances", _wrap_ec2_terminate(EC2Backend.terminate_instances)),
        (response, "put_lifecycle_hook", _put_lifecycle_hook),
        (response, "complete_lifecycle_action", _complete_lifecycle_action),
        (response, "record_lifecycle_action_heartbeat", _record_heartbeat),
    ]


def _terminating_hook(backend: Any, group_name: str) -> Any | None:
    for hook in backend.lifecycle_hooks.values():
        if (
            hook.auto_scaling_group_name == group_name
            and hook.lifecycle_transition == lifecycle.TERMINATING
        ):
            return hook
    return None


def _post(backend: Any, target_arn: str | None, body: str) -> None:
    """Send to the hook's SQS target (other target types are not simulated)."""
    queue = lifecycle.queue_name_of(target_arn)
    if queue is None:
        return
    try:
        sqs_backends[backend.account_id][backend.region_name].send_message(queue, body)
    except Exception as exc:  # AWS drops a notification it cannot deliver; so do we
        print(f"lifecycle: could not post to {queue}: {exc}", flush=True)


def _configure_hook(backend: Any, group: Any, spec: dict[str, Any]) -> None:
    hook = backend.create_lifecycle_hook(
        name=spec["LifecycleHookName"],
        as_name=group.name,
        transition=spec["LifecycleTransition"],
        timeout=int(spec["HeartbeatTimeout"]) if spec.get("HeartbeatTimeout") else None,
        result=spec.get("DefaultResult"),
    )
    hook.notification_target_arn = spec.get("NotificationTargetARN")
    hook.role_arn = spec.get("RoleARN")
    hook.notification_metadata = spec.get("NotificationMetadata")
    _post(
        backend,
        hook.notification_target_arn,
        lifecycle.hook_test_notification(backend.account_id, group.name, group.arn, utcnow()),
    )


def _configure_hooks(group: Any, cloudformation_json: Any, account_id: str, region: str) -> None:
    """The group's LifecycleHookSpecificationList, as AWS configures it (moto ignores it)."""
    backend = asg_models.autoscaling_backends[account_id][region]
    for spec in cloudformation_json["Properties"].get("LifecycleHookSpecificationList", []):
        _configure_hook(backend, group, spec)


def _wrap_set_desired_capacity(original: Callable[..., Any]) -> Callable[..., Any]:
    def set_desired_capacity(self: Any, new_capacity: int | None) -> None:
        backend = self.autoscaling_backend
        hook = _terminating_hook(backend, self.name)
        if hook is None or getattr(_local, "bypass", False):
            original(self, new_capacity)
            return
        with _lock:
            leaving = [s for s in self.instance_states if _is_terminating(s)]
            staying = {s.instance.id: s for s in self.instance_states if not _is_terminating(s)}
            # Instances already leaving count for nothing (AWS: they are out of service).
            self.instance_states = list(staying.values())
            _local.hold = set()
            try:
                original(self, new_capacity)
            finally:
                held: set[str] = _local.hold
                _local.hold = None
            for instance_id in sorted(held):
                state = staying[instance_id]
                leaving.append(state)
                _begin_action(backend, self, hook, state)
            self.instance_states = [*self.instance_states, *leaving]

    return set_desired_capacity


def _wrap_terminate_instance(original: Callable[..., Any]) -> Callable[..., Any]:
    def terminate_instance(self: Any, instance_id: str, should_decrement: bool) -> Any:
        state = next(
            (
                s
                for g in self.autoscaling_groups.values()
                for s in g.instance_states
                if s.instance.id == instance_id
            ),
            None,
        )
        if state is None:
            return original(self, instance_id, should_decrement)
        group = state.instance.autoscaling_group
        hook = _terminating_hook(self, group.name)
        if hook is None:
            return original(self, instance_id, should_decrement)
        if _is_terminating(state):
            return asg_models.TerminateInstanceActivity(state.instance, group.desired_capacity)
        with _lock:
            original_size = group.desired_capacity
            group.instance_states = [s for s in group.instance_states if s is not state]
            if should_decrement:
                group.desired_capacity = original_size - 1
            group.set_desired_capacity(group.desired_capacity)  # a replacement, when kept
            group.instance_states.append(state)
            _begin_action(self, group, hook, state)
            return asg_models.TerminateInstanceActivity(state.instance, original_size)

    return terminate_instance


def _wrap_delete_group(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_auto_scaling_group(self: Any, group_name: str) -> None:
        """Deleting a group terminates its instances at once (the simulation does not run
        termination hooks here), including those still waiting on a lifecycle action."""
        with _lock:
            group = self.autoscaling_groups.get(group_name)
            if group is not None:
                waiting = [s.instance.id for s in group.instance_states if _is_terminating(s)]
                for token, pending in list(_pending.items()):
                    if pending.action.group_name == group_name:
                        _forget(token)
                if waiting:
                    self.ec2_backend.terminate_instances(waiting)
                group.instance_states = [s for s in group.instance_states if not _is_terminating(s)]
            _local.bypass = True
            try:
                original(self, group_name)
            finally:
                _local.bypass = False

    return delete_auto_scaling_group


def _wrap_ec2_terminate(original: Callable[..., Any]) -> Callable[..., Any]:
    def terminate_instances(self: Any, instance_ids: list[str]) -> Any:
        hold = getattr(_local, "hold", None)
        if hold is None:
            return original(self, instance_ids)
        hold.update(instance_ids)  # the group's wrapper starts their lifecycle actions
        return []

    return terminate_instances


def _is_terminating(state: Any) -> bool:
    return str(state.lifecycle_state).startswith("Terminating")


def _begin_action(backend: Any, group: Any, hook: Any, state: Any) -> None:
    state.lifecycle_state = lifecycle.TERMINATING_WAIT
    action = lifecycle.LifecycleAction(
        token=lifecycle.new_token(),
        account_id=backend.account_id,
        group_name=group.name,
        hook_name=hook.name,
        transition=lifecycle.TERMINATING,
        instance_id=state.instance.id,
        notification_metadata=getattr(hook, "notification_metadata", None),
    )
    heartbeat = int(hook.heartbeat_timeout)
    pending = _Pending(action, backend, time.monotonic() + heartbeat, heartbeat)
    _pending[action.token] = pending
    _arm_timer(action.token, heartbeat)
    _post(backend, hook.notification_target_arn, lifecycle.action_message(action, utcnow()))


def _arm_timer(token: str, delay: float) -> None:
    timer = threading.Timer(delay, _on_timeout, args=(token,))
    timer.daemon = True
    _pending[token].timer = timer
    timer.start()


def _on_timeout(token: str) -> None:
    """The heartbeat timeout: AWS applies the hook's DefaultResult; for a terminating instance
    both CONTINUE and ABANDON end in its termination."""
    with _lock:
        pending = _pending.get(token)
        if pending is None:
            return
        left = pending.deadline - time.monotonic()
        if left > 0:  # a heartbeat moved the deadline
            _arm_timer(token, left)
            return
        try:
            _finish(token)
        except Exception as exc:  # its group or backend is gone (reset): nothing to end
            print(f"lifecycle: timeout of {pending.action.instance_id}: {exc}", flush=True)


def _forget(token: str) -> _Pending | None:
    pending = _pending.pop(token, None)
    if pending is not None and pending.timer is not None:
        pending.timer.cancel()
    return pending


def _finish(token: str) -> None:
    """Terminating:Proceed, then the EC2 instance is terminated and leaves the group."""
    pending = _forget(token)
    if pending is None:
        return
    backend = pending.backend
    instance_id = pending.action.instance_id
    group = backend.autoscaling_groups.get(pending.action.group_name)
    if group is not None:
        group.instance_states = [s for s in group.instance_states if s.instance.id != instance_id]
    backend.ec2_backend.terminate_instances([instance_id])


def _find_action(backend: Any, params: Callable[[str], Any]) -> str:
    """The token of the action CompleteLifecycleAction/RecordLifecycleActionHeartbeat name,
    by LifecycleActionToken or by InstanceId; AWS's error when there is none."""
    group, hook = params("AutoScalingGroupName"), params("LifecycleHookName")
    token, instance_id = params("LifecycleActionToken"), params("InstanceId")
    for candidate, pending in _pending.items():
        action = pending.action
        if (
            pending.backend is backend
            and action.group_name == group
            and action.hook_name == hook
            and (candidate == token if token else action.instance_id == instance_id)
        ):
            return candidate
    raise ValidationError(
        f"No active Lifecycle Action found with token {token}"
        if token
        else f"No active Lifecycle Action found with instance ID {instance_id}"
    )


def _put_lifecycle_hook(self: Any) -> ActionResult:
    backend = self.autoscaling_backend
    group = backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    if group is None:
        raise ValidationError("Auto Scaling group not found")
    _configure_hook(
        backend,
        group,
        {
            key: self._get_param(key)
            for key in (
                "LifecycleHookName",
                "LifecycleTransition",
                "HeartbeatTimeout",
                "DefaultResult",
                "NotificationTargetARN",
                "RoleARN",
                "NotificationMetadata",
            )
        },
    )
    return EmptyResult()


def _complete_lifecycle_action(self: Any) -> ActionResult:
    with _lock:
        token = _find_action(self.autoscaling_backend, self._get_param)
        _finish(token)
    return EmptyResult()


def _record_heartbeat(self: Any) -> ActionResult:
    with _lock:
        token = _find_action(self.autoscaling_backend, self._get_param)
        pending = _pending[token]
        pending.deadline = time.monotonic() + pending.heartbeat
    return EmptyResult()
