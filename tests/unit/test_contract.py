"""The facts every part must agree on, and how resources tagged by earlier builds are read."""

from __future__ import annotations

from swarmstack.contract import CLUSTER_TAG, MANAGER_SIZES, MANAGER_SIZES_PHRASE, tagged_cluster


def test_the_cluster_tag_is_read_in_both_spellings_and_the_new_one_wins() -> None:
    assert tagged_cluster({CLUSTER_TAG: "prod"}) == "prod"
    assert tagged_cluster({"swarmstack:cluster": "prod"}) == "prod"
    assert tagged_cluster({CLUSTER_TAG: "new", "swarmstack:cluster": "old"}) == "new"
    assert tagged_cluster({"owner": "platform-team"}) is None
    assert tagged_cluster(None) is None


def test_the_manager_sizes_phrase_names_every_size() -> None:
    *first, last = (str(n) for n in MANAGER_SIZES)
    assert f"{', '.join(first)} or {last}" == MANAGER_SIZES_PHRASE
