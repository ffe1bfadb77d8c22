"""The commands that errors and progress lines suggest, spelled once."""

from __future__ import annotations


def resume_command(name: str, region: str) -> str:
    return f"swarmstack aws status --name {name} --region {region} --wait"


def delete_command(name: str) -> str:
    return f"swarmstack aws delete-stack --name {name}"
