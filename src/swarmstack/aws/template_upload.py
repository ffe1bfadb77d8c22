"""Hand a template body to CloudFormation: inline when it fits, through S3 when it does not.

CloudFormation takes at most 51,200 bytes inline (TemplateBody); larger templates must be in
S3 (TemplateURL, up to 1 MB). Without --template-bucket swarmstack uses a bucket of its own,
named after the account and region, created with default encryption and every kind of public
access blocked. Objects are named by content hash, so an unchanged template is not re-uploaded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..errors import AwsError, TemplateTooLarge
from .error_translation import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from .session import AwsConnection

INLINE_LIMIT_BYTES = 51_200
S3_LIMIT_BYTES = 1_000_000
KEY_PREFIX = "swarmstack/templates"


@dataclass(frozen=True)
class TemplateSource:
    """Either an inline body or an S3 URL: exactly what CreateChangeSet takes."""

    body: str | None = None
    url: str | None = None

    def change_set_arguments(self) -> dict[str, Any]:
        return {"TemplateURL": self.url} if self.url else {"TemplateBody": self.body}

    def describe(self) -> str:
        return f"from {self.url}" if self.url else "inline"


def default_bucket_name(account_id: str, region: str) -> str:
    """One bucket per account and region; bucket names are global, so both are in it."""
    return f"swarmstack-templates-{account_id}-{region}"


def template_source(
    connection: AwsConnection, body: str, stack_name: str, bucket: str | None
) -> TemplateSource:
    """Inline when the body fits, else uploaded to `bucket` (or swarmstack's own bucket)."""
    size = len(body.encode("utf-8"))
    if size <= INLINE_LIMIT_BYTES:
        return TemplateSource(body=body)
    if size > S3_LIMIT_BYTES:
        raise TemplateTooLarge(
            f"template is {size:,} bytes; CloudFormation accepts at most {S3_LIMIT_BYTES:,} "
            "even through S3"
        )
    s3 = connection.s3()
    region = connection.region
    owner: dict[str, Any] = {}
    if bucket is None:
        account = connection.account_id()
        bucket = default_bucket_name(account, region)
        # The name is predictable, so someone else could create it first ("bucket
        # sniping"); every call insists the bucket is the caller's own.
        owner = {"ExpectedBucketOwner": account}
        ensure_private_bucket(s3, bucket, region, account)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:20]
    key = f"{KEY_PREFIX}/{stack_name}/{digest}.json"
    with aws_errors():
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body.encode("utf-8"),
            ContentType="application/json",
            ServerSideEncryption="AES256",
            **owner,
        )
    return TemplateSource(url=f"https://{bucket}.s3.{region}.amazonaws.com/{key}")


def ensure_private_bucket(s3: S3Client, bucket: str, region: str, account: str) -> None:
    """Create the bucket if it is missing, encrypted and closed to the public either way."""
    with aws_errors():
        try:
            s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"403", "AccessDenied"}:
                raise AwsError(
                    f"template bucket {bucket} exists but is not this account's ({account})",
                    hint="pass --template-bucket with a bucket of your own",
                ) from None
            if code not in {"404", "NoSuchBucket"}:
                raise
            if region == "us-east-1":  # the one region that rejects a LocationConstraint
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
        s3.put_public_access_block(
            Bucket=bucket,
            ExpectedBucketOwner=account,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ExpectedBucketOwner=account,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )


def remove_uploaded_templates(connection: AwsConnection, stack_name: str) -> list[str]:
    """Delete this stack's templates from swarmstack's own bucket; returns the keys removed.
    The bucket itself stays: other stacks of the account and region share it."""
    s3 = connection.s3()
    account = connection.account_id()
    bucket = default_bucket_name(account, connection.region)
    keys: list[str] = []
    with aws_errors():
        try:
            s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchBucket", "403"}:
                return []
            raise
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{KEY_PREFIX}/{stack_name}/", ExpectedBucketOwner=account
        )
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):  # delete_objects takes 1000 keys at most
            s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]},
                ExpectedBucketOwner=account,
            )
    return [f"s3://{bucket}/{key}" for key in keys]
