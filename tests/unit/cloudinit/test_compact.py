"""The setup script in cloud user data: the readable script without its comments."""

from __future__ import annotations

import yaml

from swarmstack.cloudinit import render_user_data
from swarmstack.cloudinit.compact import without_comments
from swarmstack.cloudinit.render import _setup_script
from swarmstack.cloudinit.tuning import SETUP_SCRIPT, host_tuning
from swarmstack.spec import Cloud

from .variants import make_spec


def test_comments_go_and_code_stays_line_for_line() -> None:
    readable = _setup_script(host_tuning(make_spec(), "worker", "aws"), embed_files=False)
    compact = without_comments(readable)
    assert len(compact) < len(readable) * 0.8
    pairs = list(zip(readable.split("\n"), compact.split("\n"), strict=True))
    assert pairs[0][1] == "#!/bin/bash"
    for before, after in pairs[1:]:
        assert after == "" or before.startswith(after)
        if after.lstrip().startswith("#"):
            assert after.lstrip().startswith("# shellcheck ")
        if not before.lstrip().startswith("#") and "  # " not in before:
            assert after == before


def test_a_hash_inside_a_string_is_not_a_comment() -> None:
    script = '#!/bin/bash\n# why\necho \'a  # b\'\nx=1  # set x\ny="$(z)"  # "quoted" why\n'
    assert without_comments(script) == "#!/bin/bash\n\necho 'a  # b'\nx=1\ny=\"$(z)\"\n"


def test_aws_user_data_carries_the_compact_script_and_the_others_the_readable_one() -> None:
    spec = make_spec()
    clouds: tuple[tuple[Cloud, bool], ...] = (("aws", True), ("azure", False), ("generic", False))
    for cloud, compact in clouds:
        files = yaml.safe_load(render_user_data(spec, "worker", cloud))["write_files"]
        [script] = [f["content"] for f in files if f["path"] == SETUP_SCRIPT]
        readable = _setup_script(host_tuning(spec, "worker", cloud), embed_files=False)
        assert script == (without_comments(readable) if compact else readable)
