"""The commands that errors and progress lines suggest, spelled once.

A suggested command repeats the connection the user gave (--profile, --endpoint-url):
without them it would look for the stack in another account or on real AWS.
"""

from __future__ import annotations

import shlex


def connection_flags(profile: str | None = None, endpoint_url: str | None = None) -> str:
    flags = ""
    if endpoint_url:
        flags += f" --endpoint-url {shlex.quote(endpoint_url)}"
    if profile:
        flags += f" --profile {shlex.quote(profile)}"
    return flags


def resume_command(
    name: str, region: str, *, profile: str | None = None, endpoint_url: str | None = None
) -> str:
    return (
        f"swarmstack aws status --name {name} --region {region} --wait"
        f"{connection_flags(profile, endpoint_url)}"
    )


def delete_command(name: str) -> str:
    return f"swarmstack aws delete-stack --name {name}"
