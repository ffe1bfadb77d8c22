"""The AWS template's behaviour: parameter constraints, security defaults, tags, sizes."""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from swarmstack.aws.stacks import stack_tags as aws_stack_tags
from swarmstack.cloudinit import render_user_data
from swarmstack.cloudinit.agent import agent_settings
from swarmstack.contract import CLUSTER_TAG
from swarmstack.errors import SpecError
from swarmstack.spec import AWS_DISK_TYPES, ClusterSpec
from swarmstack.templates.aws import build_template, suppressions
from swarmstack.templates.aws.selfmanaging import PARAMETERS as STATE_PATH

from .aws_variants import VARIANTS, spec_of

DEFAULT = spec_of()


def _template(spec: ClusterSpec = DEFAULT, **kwargs: Any) -> dict[str, Any]:
    data: dict[str, Any] = build_template(spec, **kwargs).to_dict()
    return data


def _resources(data: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in data["Resources"].items() if r["Type"] == kind}


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


# --- parameters ---------------------------------------------------------------------------

PARAMETERS = _template()["Parameters"]


@pytest.mark.parametrize(
    ("name", "constraint"),
    [
        ("KeyName", {"Type": "AWS::EC2::KeyPair::KeyName"}),
        ("ClusterSize", {"Type": "Number", "MinValue": 0, "MaxValue": 1000, "Default": "5"}),
        ("ManagerSize", {"Type": "Number", "AllowedValues": ["1", "3", "5", "7"]}),
        ("ManagerDiskSize", {"Type": "Number", "MinValue": 20, "MaxValue": 1024}),
        ("WorkerDiskSize", {"Type": "Number", "MinValue": 20, "MaxValue": 1024}),
        ("ManagerDiskType", {"AllowedValues": ["gp3", "gp2", "standard"], "Default": "gp3"}),
        ("WorkerDiskType", {"AllowedValues": ["gp3", "gp2", "standard"], "Default": "gp3"}),
        ("EnableSystemPrune", {"AllowedValues": ["yes", "no"], "Default": "no"}),
        ("EnableCloudWatchLogs", {"AllowedValues": ["yes", "no"], "Default": "yes"}),
        ("LogRetentionInDays", {"Type": "Number", "Default": "30"}),
        ("SshCidr", {"Type": "String", "Default": ""}),
        (
            "AmiId",
            {
                "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                "Default": "/aws/service/debian/release/12/latest/amd64",
            },
        ),
        ("RootDeviceName", {"AllowedValues": ["/dev/xvda", "/dev/sda1"]}),
        ("Vpc", {"Type": "String", "Default": ""}),
        ("Subnets", {"Type": "CommaDelimitedList", "Default": ""}),
    ],
)
def test_parameter_has_its_constraint(name: str, constraint: dict[str, Any]) -> None:
    parameter = PARAMETERS[name]
    assert {key: parameter.get(key) for key in constraint} == constraint
    assert parameter.get("Description") or name in _labels()


def _labels() -> dict[str, Any]:
    labels: dict[str, Any] = _template()["Metadata"]["AWS::CloudFormation::Interface"][
        "ParameterLabels"
    ]
    return labels


def test_key_name_is_the_only_parameter_without_a_default() -> None:
    assert [name for name, p in PARAMETERS.items() if "Default" not in p] == ["KeyName"]


def test_log_retention_allows_exactly_cloudwatchs_periods() -> None:
    allowed = PARAMETERS["LogRetentionInDays"]["AllowedValues"]
    assert allowed[:6] == ["1", "3", "5", "7", "14", "30"]
    assert "2" not in allowed
    assert allowed[-1] == "3653"


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("InstanceType", ["t3.medium", "m7i-flex.large", "c7gn.16xlarge"], ["large", "T3.medium"]),
        ("ManagerInstanceType", ["t3.large"], ["t3", ""]),
        ("SshCidr", ["", "203.0.113.0/24", "10.0.0.1/32"], ["203.0.113.0", "300.1.1.1/8", "x"]),
        ("AvailabilityZone1", ["", "eu-west-1a", "us-gov-west-1b"], ["eu-west-1", "a"]),
        ("Vpc", ["", "vpc-0123abcd", "vpc-0123456789abcdef0"], ["vpc-xyz", "subnet-0123abcd"]),
        (
            "LogKmsKeyArn",
            [
                "",
                "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            ],
            ["alias/aws/logs", "arn:aws:kms:eu-west-1:123:key/x"],
        ),
    ],
)
def test_parameter_pattern_accepts_and_rejects(name: str, good: list[str], bad: list[str]) -> None:
    pattern = PARAMETERS[name]["AllowedPattern"]
    assert PARAMETERS[name]["ConstraintDescription"]
    for value in good:
        assert _matches(pattern, value), value
    for value in bad:
        assert not _matches(pattern, value), value


def test_spec_values_become_parameter_defaults() -> None:
    spec = spec_of(
        manager_size=7,
        cluster_size=12,
        instance_type="c7i.xlarge",
        manager_disk_size=64,
        worker_disk_type="gp2",
        enable_system_prune=True,
        enable_cloudwatch_logs=False,
        log_retention_days=14,
        key_name="ops",
        ssh_cidr="198.51.100.0/24",
        zones=["eu-west-1a", "eu-west-1b", "eu-west-1c"],
        existing_vpc_id="vpc-0123abcd",
        existing_subnet_ids=["subnet-0123abcd", "subnet-4567abcd"],
    )
    defaults = {name: p.get("Default") for name, p in _template(spec)["Parameters"].items()}
    assert (
        defaults
        | {
            "ManagerSize": "7",
            "ClusterSize": "12",
            "InstanceType": "c7i.xlarge",
            "ManagerDiskSize": "64",
            "WorkerDiskType": "gp2",
            "EnableSystemPrune": "yes",
            "EnableCloudWatchLogs": "no",
            "LogRetentionInDays": "14",
            "KeyName": "ops",
            "SshCidr": "198.51.100.0/24",
            "AvailabilityZone3": "eu-west-1c",
            "Vpc": "vpc-0123abcd",
            "Subnets": "subnet-0123abcd,subnet-4567abcd",
        }
        == defaults
    )


def test_console_groups_every_parameter_once() -> None:
    interface = _template()["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [name for group in interface["ParameterGroups"] for name in group["Parameters"]]
    assert sorted(grouped) == sorted(PARAMETERS)
    assert set(interface["ParameterLabels"]) == set(PARAMETERS)
    labels = [group["Label"]["default"] for group in interface["ParameterGroups"]]
    assert labels[:4] == [
        "Swarm Size",
        "Swarm Properties",
        "Swarm Manager Properties",
        "Swarm Worker Properties",
    ]


# --- network ------------------------------------------------------------------------------


def test_zones_are_never_selected_with_a_computed_index() -> None:
    for node in _walk(_template()):
        if isinstance(node, dict) and "Fn::Select" in node:
            assert isinstance(node["Fn::Select"][0], int)
        assert not (isinstance(node, dict) and "Fn::Cidr" in node)


def test_new_vpc_subnets_split_the_spec_cidr() -> None:
    spec = spec_of(vpc_cidr="192.168.16.0/20")
    subnets = _resources(_template(spec), "AWS::EC2::Subnet")
    cidrs = [subnets[f"PublicSubnet{i}"]["Properties"]["CidrBlock"] for i in (1, 2, 3)]
    assert cidrs == ["192.168.16.0/22", "192.168.20.0/22", "192.168.24.0/22"]
    assert subnets["PublicSubnet3"]["Condition"] == "ThirdSubnet"


# --- security groups ----------------------------------------------------------------------


def _ingress_rules(data: dict[str, Any]) -> list[dict[str, Any]]:
    rules = [r["Properties"] for r in _resources(data, "AWS::EC2::SecurityGroupIngress").values()]
    for group in _resources(data, "AWS::EC2::SecurityGroup").values():
        rules += group["Properties"].get("SecurityGroupIngress", [])
    return rules


def test_every_rule_has_integer_ports_and_a_description() -> None:
    data = _template()
    rules = _ingress_rules(data)
    for group in _resources(data, "AWS::EC2::SecurityGroup").values():
        rules += group["Properties"].get("SecurityGroupEgress", [])
    assert len(rules) >= 10
    for rule in rules:
        assert len(rule["Description"]) > 10
        if "FromPort" in rule:
            assert type(rule["FromPort"]) is int
            assert type(rule["ToPort"]) is int


def test_nothing_in_the_template_takes_traffic_from_the_world() -> None:
    # The load balancer's ingress rules (one per published port, from anywhere) are made at
    # run time by the node agent, together with each port's listener.
    data = _template()
    assert [r for r in _ingress_rules(data) if r.get("CidrIp") == "0.0.0.0/0"] == []
    assert (
        "SecurityGroupIngress" not in data["Resources"]["LoadBalancerSecurityGroup"]["Properties"]
    )


def test_swarm_ports_are_open_only_between_swarm_nodes() -> None:
    data = _template(spec_of(data_path_port=4790))
    swarm = {
        (r["IpProtocol"], r["FromPort"])
        for r in _ingress_rules(data)
        if r.get("SourceSecurityGroupId") == {"Fn::GetAtt": ["NodeSecurityGroup", "GroupId"]}
    }
    assert swarm == {("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4790), ("50", -1)}
    management = data["Resources"]["ManagerIngressSwarmManagement"]["Properties"]
    assert management["GroupId"] == {"Fn::GetAtt": ["ManagerSecurityGroup", "GroupId"]}


def test_every_security_group_has_a_purpose_of_its_own() -> None:
    """A group with no rule beyond all-outbound (which the nodes' group already grants) is
    noise: the workers use the nodes' group, the managers add the management port."""
    data = _template()
    groups = _resources(data, "AWS::EC2::SecurityGroup")
    for title, group in groups.items():
        own_ingress = [
            r
            for r in _resources(data, "AWS::EC2::SecurityGroupIngress").values()
            if r["Properties"]["GroupId"] == {"Fn::GetAtt": [title, "GroupId"]}
        ]
        specific_egress = [
            r
            for r in group["Properties"].get("SecurityGroupEgress", [])
            if r.get("CidrIp") != "0.0.0.0/0"
        ]
        assert own_ingress or specific_egress, title
    for role, wanted in (("Manager", ["Node", "Manager"]), ("Worker", ["Node"])):
        lt = data["Resources"][f"{role}LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        [interface] = lt["NetworkInterfaces"]
        assert interface["Groups"] == [
            {"Fn::GetAtt": [f"{name}SecurityGroup", "GroupId"]} for name in wanted
        ]


def test_ssh_is_open_only_from_ssh_cidr_and_only_when_it_is_set() -> None:
    data = _template()
    ssh = [
        r
        for r in data["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and r["Properties"]["FromPort"] == 22
    ]
    assert len(ssh) == 1
    rule = ssh[0]
    assert rule["Condition"] == "SshAllowed"
    assert rule["Properties"]["CidrIp"] == {"Ref": "SshCidr"}
    assert data["Conditions"]["SshAllowed"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SshCidr"}, ""]}]
    }
    assert data["Parameters"]["SshCidr"]["Default"] == ""


def test_published_ports_reach_the_nodes_only_from_the_load_balancer() -> None:
    data = _template(spec_of(published_ports=[8080]))
    rule = data["Resources"]["NodeIngressPublished"]["Properties"]
    assert rule["SourceSecurityGroupId"] == {"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}
    assert rule["GroupId"] == {"Fn::GetAtt": ["NodeSecurityGroup", "GroupId"]}
    [egress] = data["Resources"]["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert egress["DestinationSecurityGroupId"] == {"Fn::GetAtt": ["NodeSecurityGroup", "GroupId"]}
    # Listeners and target groups are the node agent's (fixed ones from the spec's ports).
    assert not [r for r in data["Resources"].values() if "Listener" in r["Type"]]
    for role in ("Manager", "Worker"):
        assert "TargetGroupARNs" not in data["Resources"][f"{role}AutoScalingGroup"]["Properties"]
    assert agent_settings(spec_of(published_ports=[8080]))["fixed_ports"] == [8080]


def test_no_published_ports_means_no_load_balancer() -> None:
    data = _template(spec_of(published_ports=[]))
    assert not [r for r in data["Resources"].values() if "ElasticLoadBalancing" in r["Type"]]
    assert "LoadBalancerSecurityGroup" not in data["Resources"]
    assert "DefaultDNSTarget" not in data["Outputs"]


def test_load_balancer_is_a_cross_zone_nlb() -> None:
    data = _template()
    lb = data["Resources"]["LoadBalancer"]["Properties"]
    assert lb["Type"] == "network"
    assert {"Key": "load_balancing.cross_zone.enabled", "Value": "true"} in lb[
        "LoadBalancerAttributes"
    ]


# --- instances ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Manager", "Worker"])
def test_launch_template_is_hardened(role: str) -> None:
    data = _template()["Resources"][f"{role}LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"] == {
        "HttpEndpoint": "enabled",
        "HttpTokens": "required",
        # 1: dockerd (awslogs) on the host reaches IMDS; containers cannot take the role.
        "HttpPutResponseHopLimit": 1,
        "InstanceMetadataTags": "enabled",
    }
    root, docker = data["BlockDeviceMappings"]
    assert root["DeviceName"] == {"Ref": "RootDeviceName"}
    assert root["Ebs"]["VolumeType"] == "gp3"
    assert root["Ebs"]["Encrypted"] is True
    assert docker["Ebs"]["Encrypted"] is True
    assert docker["Ebs"]["VolumeSize"] == {"Ref": f"{role}DiskSize"}
    assert data["IamInstanceProfile"]["Arn"] == {"Fn::GetAtt": [f"{role}InstanceProfile", "Arn"]}


def test_user_data_comes_from_the_hook_per_role() -> None:
    calls: list[str] = []

    def user_data(role: str) -> str:
        calls.append(role)
        return base64.b64encode(f"#cloud-config\n# {role}\n".encode()).decode()

    data = _template(user_data=user_data)
    assert sorted(calls) == ["manager", "worker"]
    for role in ("manager", "worker"):
        lt = data["Resources"][f"{role.capitalize()}LaunchTemplate"]["Properties"]
        text = base64.b64decode(lt["LaunchTemplateData"]["UserData"]).decode()
        assert text == f"#cloud-config\n# {role}\n"
    assert "Mappings" not in data


def test_default_user_data_is_one_gzipped_cloud_config_for_both_roles() -> None:
    data = _template()
    [[key, [[attribute, value]]]] = [
        (k, list(v.items())) for k, v in data["Mappings"]["NodeUserData"].items()
    ]
    assert isinstance(value, str)  # static: no Fn::Sub, no Ref
    for role in ("Manager", "Worker"):
        lt = data["Resources"][f"{role}LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        assert lt["UserData"] == {"Fn::FindInMap": ["NodeUserData", key, attribute]}
    raw = base64.b64decode(value)
    assert len(raw) <= 16 * 1024  # EC2's limit for user data
    text = gzip.decompress(raw).decode()  # cloud-init unpacks gzip by its magic bytes
    assert text == render_user_data(DEFAULT, "worker", "aws")
    assert text == render_user_data(DEFAULT, "manager", "aws")


@pytest.mark.parametrize("role", ["manager", "worker"])
def test_instances_learn_cluster_role_and_console_parameters_from_tags(role: str) -> None:
    data = _template(spec_of(tags={"team": "platform"}))
    tags = data["Resources"][f"{role.capitalize()}AutoScalingGroup"]["Properties"]["Tags"]
    assert all(t["PropagateAtLaunch"] is True for t in tags)
    values = {t["Key"]: t["Value"] for t in tags}
    assert values["swarmstack-cluster"] == {"Ref": "AWS::StackName"}
    assert values["swarmstack-role"] == role
    assert values["swarmstack-system-prune"] == {"Ref": "EnableSystemPrune"}
    # Empty with CloudWatch logs off: the node agent then keeps the local log driver.
    assert values["swarmstack-log-group"] == {
        "Fn::If": ["CloudWatchLogsOn", {"Ref": "LogGroup"}, ""]
    }
    assert "team" not in values  # user tags are stack tags; CloudFormation copies them
    for key in values:
        assert "/" not in key
        assert ":" not in key


def test_user_tags_are_not_repeated_on_each_resource() -> None:
    data = _template(spec_of(tags={"team": "platform"}))
    assert '"team"' not in json.dumps(data)


def test_resources_name_themselves_and_leave_the_cluster_tag_to_the_stack() -> None:
    """launch-stack tags the stack with swarmstack-cluster (CloudFormation copies stack tags
    onto every resource it creates); only what EC2 creates at launch carries it itself."""
    assert CLUSTER_TAG in {t["Key"] for t in aws_stack_tags("prod", {"team": "platform"})}
    data = _template()
    tagged = 0
    for title, resource in data["Resources"].items():
        tags = resource.get("Properties", {}).get("Tags")
        if resource["Type"] == "AWS::AutoScaling::AutoScalingGroup" or tags is None:
            continue
        tagged += 1
        assert [t["Key"] for t in tags] == ["Name"], title
    assert tagged >= 10
    for role in ("Manager", "Worker"):
        lt = data["Resources"][f"{role}LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        [volumes] = lt["TagSpecifications"]
        assert volumes["ResourceType"] == "volume"
        assert {t["Key"]: t["Value"] for t in volumes["Tags"]}[CLUSTER_TAG] == {
            "Ref": "AWS::StackName"
        }


@pytest.mark.parametrize(("role", "count"), [("Manager", "ManagerSize"), ("Worker", "ClusterSize")])
def test_groups_complete_only_when_their_nodes_are_in_the_swarm(role: str, count: str) -> None:
    group = _template()["Resources"][f"{role}AutoScalingGroup"]
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == {"Ref": count}
    update = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert update["MaxBatchSize"] == 1  # one manager at a time
    assert update["WaitOnResourceSignals"] is True  # ... each waiting for its successor


def test_group_sizes_follow_the_parameters() -> None:
    data = _template()
    managers = data["Resources"]["ManagerAutoScalingGroup"]["Properties"]
    workers = data["Resources"]["WorkerAutoScalingGroup"]["Properties"]
    size = {"Ref": "ManagerSize"}
    assert (managers["MinSize"], managers["MaxSize"], managers["DesiredCapacity"]) == (size,) * 3
    assert workers["DesiredCapacity"] == {"Ref": "ClusterSize"}
    assert (workers["MinSize"], workers["MaxSize"]) == ("0", "1000")


@pytest.mark.parametrize("role", ["Manager", "Worker"])
def test_termination_hook_posts_to_the_encrypted_queue(role: str) -> None:
    data = _template()
    [hook] = data["Resources"][f"{role}AutoScalingGroup"]["Properties"][
        "LifecycleHookSpecificationList"
    ]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["NotificationTargetARN"] == {"Fn::GetAtt": ["LifecycleQueue", "Arn"]}
    assert hook["RoleARN"] == {"Fn::GetAtt": ["LifecycleHookRole", "Arn"]}
    assert data["Resources"]["LifecycleQueue"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sqs"


# --- IAM and logs -------------------------------------------------------------------------


def _statements(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource in data["Resources"].values():
        props = resource.get("Properties", {})
        documents = [props["PolicyDocument"]] if "PolicyDocument" in props else []
        documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in documents:
            yield from document["Statement"]


def test_no_action_on_every_resource_is_more_than_a_read() -> None:
    statements = list(_statements(_template()))
    assert len(statements) >= 6
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if statement.get("Resource") == "*":
            assert all(a.split(":")[1].startswith("Describe") for a in actions), actions
        assert not any(a.endswith("*") for a in actions)


def test_log_writes_are_scoped_to_the_stacks_log_group() -> None:
    data = _template()
    policy = data["Resources"]["NodeLogsPolicy"]
    assert policy["Condition"] == "CloudWatchLogsOn"
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["LogGroup", "Arn"]}
    log_group = data["Resources"]["LogGroup"]
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert log_group["Properties"]["KmsKeyId"]["Fn::If"][0] == "LogKmsKeyGiven"


def test_lifecycle_actions_are_scoped_to_the_stacks_groups() -> None:
    data = _template()
    [groups_statement] = data["Resources"]["ManagerGroupsPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    groups = [arn["Fn::Sub"][1]["Group"] for arn in groups_statement["Resource"]]
    assert groups == [{"Ref": "ManagerAutoScalingGroup"}, {"Ref": "WorkerAutoScalingGroup"}]
    assert {
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
        "autoscaling:AttachLoadBalancerTargetGroups",
        "autoscaling:DetachLoadBalancerTargetGroups",
    } == set(groups_statement["Action"])
    statements = _policy_statements(data, "ManagerRole")
    assert _grants(statements, "sqs:ReceiveMessage") == [
        json.dumps({"Fn::GetAtt": ["LifecycleQueue", "Arn"]})
    ]


def _references(value: Any) -> set[str]:
    """Logical ids a resource's properties refer to (Ref, Fn::GetAtt, ${Name} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref":
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= set(re.findall(r"\$\{([A-Za-z0-9]+)[}.]", text))
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _dependencies(data: dict[str, Any], title: str) -> set[str]:
    """Every resource CloudFormation must create before ``title`` (transitively)."""
    resources = data["Resources"]
    seen: set[str] = set()
    todo = [title]
    while todo:
        resource = resources[todo.pop()]
        depends = resource.get("DependsOn", [])
        direct = _references(resource) | set([depends] if isinstance(depends, str) else depends)
        for name in direct & set(resources) - seen:
            seen.add(name)
            todo.append(name)
    return seen


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_what_nodes_need_to_join_is_created_before_the_groups_wait_for_them(name: str) -> None:
    """A group completes only when its nodes signal that they joined; a policy that refers to
    a group is created only after it. So no permission a node needs to join may be there."""
    data = json.loads(build_template(VARIANTS[name]).to_json())
    joining = {"ssm:GetParameter", "ssm:PutParameter", "cloudformation:SignalResource"}
    groups = {t for t, r in data["Resources"].items() if r["Type"].endswith("AutoScalingGroup")}
    checked = 0
    for title, resource in data["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        actions = set()
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            actions |= set(action if isinstance(action, list) else [action])
        if actions & joining:
            checked += 1
            assert not _dependencies(data, title) & groups, title
    assert checked == 2  # the managers' and the workers' agent policies


def test_nodes_and_load_balancer_start_only_once_a_new_vpcs_subnets_route_out() -> None:
    """An instance in a subnet not yet associated with the public route table has no route
    out and cannot install Docker at boot; so every group and the load balancer wait for the
    default route and each subnet's association (in Metadata: DependsOn cannot be
    conditional, and an existing VPC has neither)."""
    data = json.loads(build_template(spec_of(published_ports=[80])).to_json())
    routed = {name for name in data["Resources"] if name.endswith("RouteTableAssociation")}
    assert len(routed) == 3
    waiting = [
        title
        for title, r in data["Resources"].items()
        if r["Type"]
        in ("AWS::AutoScaling::AutoScalingGroup", "AWS::ElasticLoadBalancingV2::LoadBalancer")
    ]
    assert len(waiting) == 3
    for title in waiting:
        assert routed | {"PublicDefaultRoute"} <= _dependencies(data, title), title


# --- outputs and suppressions -------------------------------------------------------------


def test_outputs_name_what_people_need() -> None:
    outputs = _template()["Outputs"]
    assert {
        "ManagerAutoScalingGroup",
        "WorkerAutoScalingGroup",
        "DefaultDNSTarget",
        "VpcId",
        "NodeSecurityGroupId",
        "ManagerSecurityGroupId",
        "LoadBalancerSecurityGroupId",
        "LogGroupName",
        "SshHint",
    } <= set(outputs)
    assert outputs["LogGroupName"]["Condition"] == "CloudWatchLogsOn"


def test_every_in_template_suppression_is_a_documented_one() -> None:
    documented = dict(suppressions.CHECKOV)
    lint_documented = dict(suppressions.CFN_LINT)
    seen = set()
    resources = _template()["Resources"]
    explained = {}
    for title, resource in resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            if skip["comment"] == documented[skip["id"]]:
                explained[skip["id"]] = title
    for resource in resources.values():
        metadata = resource.get("Metadata", {})
        for skip in metadata.get("checkov", {}).get("skip", []):
            # Written out once; a second resource with the same suppression points there.
            assert skip["comment"] in (
                documented[skip["id"]],
                suppressions.see(explained[skip["id"]]),
            )
            seen.add(skip["id"])
        for rule in metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", []):
            assert lint_documented[rule] in metadata["Comment"]
            seen.add(rule)
    assert seen == set(documented) | set(lint_documented)


# --- spec values AWS cannot use -----------------------------------------------------------


def test_spec_values_aws_cannot_use_are_all_reported_at_once() -> None:
    spec = spec_of(
        instance_type="Standard_D2s_v5",
        manager_disk_type="Premium_LRS",
        zones=["eu-west-1a"],
        vpc_cidr="10.0.0.0/26",
        default_addr_pool=["192.168.0.0/16"],
        tags={"team/name": "x"},
    )
    with pytest.raises(SpecError) as raised:
        build_template(spec)
    assert list(raised.value.problems) == [
        "instance_type=Standard_D2s_v5: on AWS must be an EC2 instance type like m7i.large",
        "manager_disk_type=Premium_LRS: on AWS must be gp3, gp2, standard (an EBS volume type; "
        "this is an Azure disk SKU)",
        "vpc_cidr=10.0.0.0/26: on AWS must be a /16 to /24 network (VPC limits, room for 4 "
        "subnets)",
        "zones=eu-west-1a: on AWS must name two or three availability zones (or none to use "
        "the region's first ones)",
        "tags=team/name: on AWS tag keys must be letters, digits and +-=.,_:@ only (no spaces "
        "or '/'), because instances read their tags through instance metadata",
    ]


@pytest.mark.parametrize("kind", AWS_DISK_TYPES)
def test_every_aws_disk_type_the_spec_accepts_is_one_the_template_takes(kind: str) -> None:
    # The smallest allowed disk: each type offered works at every size without more settings.
    spec = spec_of(manager_disk_type=kind, worker_disk_type=kind, manager_disk_size=20)
    parameters = _template(spec)["Parameters"]
    for name in ("ManagerDiskType", "WorkerDiskType"):
        assert parameters[name]["Default"] == kind
        assert parameters[name]["AllowedValues"] == list(AWS_DISK_TYPES)
    assert set(AWS_DISK_TYPES).isdisjoint({"io1", "io2", "st1", "sc1"})


def test_more_published_ports_than_listeners_is_an_error() -> None:
    with pytest.raises(SpecError, match="at most 50 ports"):
        build_template(spec_of(published_ports=list(range(1000, 1051))))


def test_too_many_user_tags_is_an_error() -> None:
    tags = {f"k{i}": "v" for i in range(46)}
    with pytest.raises(SpecError, match="at most 45"):
        build_template(spec_of(tags=tags))
    build_template(spec_of(tags=dict(list(tags.items())[:45])))


def _rule_value(expression: Any, parameters: dict[str, Any]) -> Any:
    """Evaluate a rule expression (the rule functions the template uses) for parameters."""
    if not isinstance(expression, dict):
        return expression
    [(function, arguments)] = expression.items()
    if function == "Ref":
        return parameters[arguments]
    values = [_rule_value(argument, parameters) for argument in arguments]
    if function == "Fn::Equals":
        return values[0] == values[1]
    if function == "Fn::EachMemberEquals":
        return all(member == values[1] for member in values[0])
    if function == "Fn::Not":
        return not values[0]
    if function == "Fn::And":
        return all(values)
    if function == "Fn::Or":
        return any(values)
    raise AssertionError(f"no evaluator for {function}")


def _rules_hold(rules: dict[str, Any], parameters: dict[str, Any]) -> bool:
    for rule in rules.values():
        if "RuleCondition" in rule and not _rule_value(rule["RuleCondition"], parameters):
            continue
        if not all(_rule_value(a["Assert"], parameters) for a in rule["Assertions"]):
            return False
    return True


@pytest.mark.parametrize("vpc", ["", "vpc-0123abcd"])
@pytest.mark.parametrize("subnets", [[""], ["subnet-1", "subnet-2"]])
@pytest.mark.parametrize("zones", [("", ""), ("eu-west-1a", ""), ("eu-west-1a", "eu-west-1b")])
def test_console_rules_keep_vpc_subnets_and_zones_together(
    vpc: str, subnets: list[str], zones: tuple[str, str]
) -> None:
    """The console refuses Vpc without Subnets (and the other way round) and a first zone
    without a second; CloudFormation sends an empty CommaDelimitedList as [""]."""
    rules = _template()["Rules"]
    parameters = {
        "Vpc": vpc,
        "Subnets": subnets,
        "AvailabilityZone1": zones[0],
        "AvailabilityZone2": zones[1],
    }
    together = (vpc == "") == (subnets == [""])
    zones_ok = zones[0] == "" or zones[1] != ""
    assert _rules_hold(rules, parameters) == (together and zones_ok)


def test_zones_must_belong_to_the_specs_region() -> None:
    spec = spec_of(region="eu-west-1", zones=["eu-west-1a", "us-east-1b"])
    with pytest.raises(SpecError) as raised:
        build_template(spec)
    assert raised.value.problems == (
        "zones=eu-west-1a,us-east-1b: must be zones of region eu-west-1 (us-east-1b is not)",
    )
    build_template(spec_of(region="eu-west-1", zones=["eu-west-1a", "eu-west-1b"]))


# --- IAM of the node agent ----------------------------------------------------------------


def _policy_statements(data: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement that applies to the IAM role ``role`` (inline and attached)."""
    statements = []
    for resource in data["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in props["Roles"]:
            statements += props["PolicyDocument"]["Statement"]
    for policy in data["Resources"][role]["Properties"].get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    return statements


def _resources_of(statement: dict[str, Any]) -> list[str]:
    resources = statement["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    return [json.dumps(r) for r in resources]


def _grants(statements: list[dict[str, Any]], action: str) -> list[str]:
    granted = []
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if statement["Effect"] == "Allow" and action in actions:
            granted += _resources_of(statement)
    return granted


def test_the_worker_role_cannot_read_the_manager_token() -> None:
    statements = _policy_statements(_template(), "WorkerRole")
    readable = _grants(statements, "ssm:GetParameter")
    assert readable == [
        json.dumps({"Fn::Sub": f"{STATE_PATH}/token/worker"}),
        json.dumps({"Fn::Sub": f"{STATE_PATH}/swarm"}),
    ]
    assert not any("token/manager" in r or r.endswith('/*"}') for r in readable)
    for action in ("ssm:GetParametersByPath", "ssm:PutParameter", "ssm:GetParameters"):
        assert _grants(statements, action) == []


def test_managers_keep_the_swarm_state_only_under_the_stacks_path() -> None:
    statements = _policy_statements(_template(), "ManagerRole")
    for action in ("ssm:GetParameter", "ssm:PutParameter", "ssm:GetParametersByPath"):
        assert _grants(statements, action) == [json.dumps({"Fn::Sub": f"{STATE_PATH}/*"})]
    assert STATE_PATH.endswith("parameter/swarmstack/${AWS::StackName}")


def test_the_agent_touches_only_this_stacks_load_balancer() -> None:
    statements = _policy_statements(_template(), "ManagerRole")
    listeners = _grants(statements, "elasticloadbalancing:CreateListener")
    assert listeners[0] == json.dumps({"Ref": "LoadBalancer"})
    assert "LoadBalancerFullName" in listeners[1]
    [create] = [s for s in statements if "elasticloadbalancing:CreateTargetGroup" in s["Action"]]
    assert create["Condition"] == {
        "StringEquals": {"aws:RequestTag/swarmstack-cluster": {"Ref": "AWS::StackName"}}
    }
    [delete] = [s for s in statements if "elasticloadbalancing:DeleteTargetGroup" in s["Action"]]
    assert delete["Condition"] == {
        "StringEquals": {"aws:ResourceTag/swarmstack-cluster": {"Ref": "AWS::StackName"}}
    }
    ingress = _grants(statements, "ec2:AuthorizeSecurityGroupIngress")
    assert len(ingress) == 1
    assert "LoadBalancerSecurityGroup" in ingress[0]
    assert (
        _grants(
            _policy_statements(_template(), "WorkerRole"), "elasticloadbalancing:CreateListener"
        )
        == []
    )


def test_both_roles_signal_only_their_own_stack() -> None:
    data = _template()
    for role in ("ManagerRole", "WorkerRole"):
        assert _grants(_policy_statements(data, role), "cloudformation:SignalResource") == [
            json.dumps({"Ref": "AWS::StackId"})
        ]
