"""`differences`: what Azure returns contains what we asked for, or the path that differs."""

from __future__ import annotations

from swarmstack.azure.diff import differences


def test_extra_read_only_fields_are_no_difference() -> None:
    desired = {"location": "westeurope", "properties": {"a": [{"name": "x"}]}}
    actual = {
        "id": "/x",
        "etag": "W/1",
        "location": "West Europe",
        "properties": {"a": [{"name": "x", "id": "/x/a/x"}], "provisioningState": "Succeeded"},
    }
    assert differences(desired, actual) == []


def test_changed_missing_and_resized_values_are_named() -> None:
    desired = {"sku": {"capacity": 5}, "properties": {"rules": [1, 2], "new": True}}
    actual = {"sku": {"capacity": 3}, "properties": {"rules": [1]}}
    assert differences(desired, actual) == ["sku.capacity", "properties.rules", "properties.new"]


def test_ids_compare_without_case_and_custom_data_is_write_only() -> None:
    desired = {
        "subnet": {"id": "/subscriptions/S/resourceGroups/RG/providers/X/y/Z"},
        "osProfile": {"customData": "abc"},
    }
    actual = {
        "subnet": {"id": "/subscriptions/s/resourcegroups/rg/providers/x/y/z"},
        "osProfile": {},
    }
    assert differences(desired, actual) == []
