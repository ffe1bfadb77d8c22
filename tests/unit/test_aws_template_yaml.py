"""The YAML form: short-form intrinsic functions that read back as exactly the template, and
the default stack's YAML within the inline limit (issue 12: `aws template -o yaml` fits)."""

from __future__ import annotations

from typing import Any

import yaml
from troposphere import Base64, GetAtt, If, Join, Output, Ref, Sub, Template

from swarmstack.templates.aws import INLINE_LIMIT_BYTES, build_template, render_body

from .aws_variants import VARIANTS


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads short forms back as CloudFormation does: `!GetAtt A.B.C` is resource A,
    attribute B.C; `!X arg` is `Fn::X: arg`."""


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        argument: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        argument = loader.construct_sequence(node, deep=True)
    else:
        argument = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": argument}
    if suffix == "GetAtt" and isinstance(argument, str):
        return {"Fn::GetAtt": argument.split(".", 1)}
    return {f"Fn::{suffix}": argument}


_CloudFormationLoader.add_multi_constructor("!", _construct)


def _read(body: str) -> Any:
    return yaml.load(body, Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass


def _rendered(template: Template) -> str:
    return render_body(template, "yaml").body


def test_every_variant_reads_back_as_the_template() -> None:
    for name, spec in VARIANTS.items():
        template = build_template(spec)
        assert _read(_rendered(template)) == template.to_dict(), name


def test_the_default_stack_fits_inline_as_yaml() -> None:
    rendered = render_body(build_template(VARIANTS["default"]), "yaml")
    print(  # for the record
        f"\nAWS template, default spec as YAML: {rendered.size:,} bytes, "
        f"{INLINE_LIMIT_BYTES - rendered.size:,} under the inline limit"
    )
    assert rendered.fits_inline


def test_functions_take_their_short_form() -> None:
    template = Template()
    template.add_output(Output("Id", Value=Ref("Vpc")))
    template.add_output(Output("Arn", Value=GetAtt("Role", "Arn")))
    template.add_output(Output("Name", Value=Sub("${AWS::StackName}-lb")))
    template.add_output(Output("Pick", Value=If("NewVpc", Ref("SwarmVpc"), Ref("Vpc"))))
    body = _rendered(template)
    assert "{Value: !Ref Vpc}" in body
    assert "{Value: !GetAtt Role.Arn}" in body
    assert "{Value: !Sub '${AWS::StackName}-lb'}" in body
    assert "Value: !If [NewVpc, !Ref SwarmVpc, !Ref Vpc]\n" in body
    assert "Ref:" not in body
    assert "Fn::" not in body
    assert _read(body) == template.to_dict()


def test_a_function_directly_inside_another_keeps_the_long_name() -> None:
    # CloudFormation refuses `!Base64 !Sub ...`: one of the two must be written out.
    template = Template()
    template.add_output(Output("Data", Value=Base64(Sub("echo ${AWS::Region}"))))
    template.add_output(Output("Joined", Value=Join("", [Sub("a-${AWS::Region}")])))
    body = _rendered(template)
    assert "{'Fn::Base64': !Sub 'echo ${AWS::Region}'}" in body
    assert "- [!Sub 'a-${AWS::Region}']" in body  # inside a list: both short
    assert "!Join\n" in body
    assert _read(body) == template.to_dict()


def test_attributes_with_dots_and_non_string_arguments_round_trip() -> None:
    template = Template()
    template.add_output(Output("Address", Value=GetAtt("Db", "Endpoint.Address")))
    template.add_output(Output("Dynamic", Value=GetAtt("Db", Ref("Attribute"))))
    template.add_output(Output("Empty", Value=Ref("")))
    body = _rendered(template)
    assert "!GetAtt Db.Endpoint.Address" in body
    assert "Fn::GetAtt: [Db, !Ref Attribute]" in body  # no short form for a computed name
    assert _read(body) == template.to_dict()
