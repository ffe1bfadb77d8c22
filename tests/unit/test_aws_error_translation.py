"""botocore errors become one-line swarmstack errors with the right class and exit code."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, ProfileNotFound

from swarmstack.aws.error_translation import aws_errors
from swarmstack.errors import (
    AwsAccessDenied,
    AwsCredentialsError,
    AwsError,
    ExitCode,
    StackExists,
    StackNotFound,
    SwarmstackError,
    TemplateRejected,
)


def client_error(code: str, message: str, operation: str) -> ClientError:
    """The shape botocore builds from an AWS error response."""
    response: Any = {
        "Error": {"Type": "Sender", "Code": code, "Message": message},
        "ResponseMetadata": {"RequestId": "5d1f0c1e", "HTTPStatusCode": 400},
    }
    return ClientError(response, operation)


def translated(exc: Exception) -> SwarmstackError:
    with pytest.raises(SwarmstackError) as caught, aws_errors():
        raise exc
    return caught.value


def test_missing_credentials() -> None:
    error = translated(NoCredentialsError())
    assert isinstance(error, AwsCredentialsError)
    assert error.problems == ("no AWS credentials found",)
    assert error.hint
    assert "--profile" in error.hint
    assert error.exit_code == ExitCode.FAILED


def test_unknown_profile_is_named() -> None:
    error = translated(ProfileNotFound(profile="prod-admin"))
    assert isinstance(error, AwsCredentialsError)
    assert error.problems == ("AWS profile 'prod-admin' not found in your AWS config files",)


@pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException", "RequestExpired"])
def test_expired_credentials(code: str) -> None:
    error = translated(
        client_error(
            code, "The security token included in the request is expired", "GetCallerIdentity"
        )
    )
    assert isinstance(error, AwsCredentialsError)
    assert error.problems == ("AWS credentials expired",)


def test_access_denied_names_the_action() -> None:
    message = (
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
        "cloudformation:CreateChangeSet on resource: arn:aws:cloudformation:eu-west-1:"
        "123456789012:stack/prod/* because no identity-based policy allows the "
        "cloudformation:CreateChangeSet action"
    )
    error = translated(client_error("AccessDenied", message, "CreateChangeSet"))
    assert isinstance(error, AwsAccessDenied)
    assert error.problems == (
        "access denied: your AWS identity may not perform cloudformation:CreateChangeSet",
    )


def test_access_denied_without_an_action_in_the_message_names_the_operation() -> None:
    error = translated(client_error("UnauthorizedOperation", "", "DescribeInstances"))
    assert error.problems == ("access denied: your AWS identity may not perform DescribeInstances",)


def test_missing_stack() -> None:
    error = translated(
        client_error("ValidationError", "Stack with id prod does not exist", "DescribeStacks")
    )
    assert isinstance(error, StackNotFound)
    assert error.problems == ("stack prod does not exist",)


def test_stack_name_taken() -> None:
    error = translated(
        client_error("AlreadyExistsException", "Stack [prod] already exists", "CreateStack")
    )
    assert isinstance(error, StackExists)


def test_template_rejected_shows_cloudformations_message() -> None:
    message = (
        "Template format error: Unresolved resource dependencies [Subnet3] "
        "in the Resources block of the template"
    )
    error = translated(client_error("ValidationError", message, "CreateChangeSet"))
    assert isinstance(error, TemplateRejected)
    assert error.problems == (f"CloudFormation rejected the template: {message}",)


def test_anything_else_keeps_code_and_message_on_one_line() -> None:
    error = translated(
        client_error("LimitExceededException", "Limit for stacks exceeded", "CreateChangeSet")
    )
    assert type(error) is AwsError
    assert error.problems == (
        "CreateChangeSet failed: LimitExceededException: Limit for stacks exceeded",
    )
