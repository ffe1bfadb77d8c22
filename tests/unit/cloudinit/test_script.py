"""The bash forms: the SSH script and the setup script inside the user data."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from swarmstack.cloudinit import tuning_script

from .variants import ALL_VARIANTS, ROLES, SPEC_VARIANTS, make_spec

LOCAL_POOL = {"default_addr_pool": ["198.19.0.0/18"], "vpc_cidr": "10.0.0.0/16"}


def all_scripts() -> dict[str, str]:
    scripts: dict[str, str] = {}
    for role in ROLES:
        for spec_name, values in SPEC_VARIANTS.items():
            for local_machine in (False, True):
                spec = make_spec(**{**values, **LOCAL_POOL})
                name = f"ssh-{role}-{spec_name}{'-local' if local_machine else ''}"
                scripts[name] = tuning_script(spec, role, local_machine=local_machine)
    for variant in ALL_VARIANTS:
        if variant.with_host_keys:
            continue
        files = yaml.safe_load(variant.render())["write_files"]
        (setup,) = [f for f in files if f["path"] == "/usr/local/sbin/swarmstack-host-setup"]
        scripts[f"user-data-{variant.id}"] = setup["content"]
    return scripts


SCRIPTS = all_scripts()


@pytest.fixture(scope="module")
def script_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scripts")
    for name, text in SCRIPTS.items():
        (folder / f"{name}.sh").write_text(text)
    return folder


def test_bash_parses_every_script(script_dir: Path) -> None:
    for path in sorted(script_dir.iterdir()):
        result = subprocess.run(
            ["bash", "-n", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{path.name}: {result.stderr}"


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_finds_nothing(script_dir: Path) -> None:
    paths = sorted(str(p) for p in script_dir.iterdir())
    result = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", *paths],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_conventions(name: str) -> None:
    script = SCRIPTS[name]
    assert script.startswith("#!/bin/bash\n")
    assert "\nset -euo pipefail\n" in script
    # Every apt-get goes through the wrapper that waits for the dpkg lock.
    apt_lines = [line for line in script.splitlines() if re.search(r"\bapt-get\b", line)]
    (wrapper,) = apt_lines
    assert wrapper.startswith("apt_get() { apt-get -q -y -o DPkg::Lock::Timeout=60 ")
    # The marker is the last thing the script does.
    assert script.rstrip().splitlines()[-2].endswith(">/var/lib/swarmstack/host-tuned")


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_engine_install_only_when_dockerd_is_missing(name: str) -> None:
    script = SCRIPTS[name]
    guard = "if command -v dockerd >/dev/null 2>&1; then"
    assert script.count(guard) == 1
    after_guard = script.split(guard, 1)[1]
    installs = after_guard.split("\nfi\n", 1)[0]
    assert "install_docker_engine" in installs.split("else", 1)[1]
    # Optional packages can fail (no mirror) without failing the script.
    if "missing=()" in script:
        assert "if apt_update && apt_get install" in script


def test_local_machine_script_leaves_the_host_kernel_alone() -> None:
    script = tuning_script(make_spec(**LOCAL_POOL), "manager", local_machine=True)
    assert "modprobe" not in script
    assert "augenrules" not in script
    assert "chrony" not in script
    assert re.search(r"^(vm|fs|kernel)\.", script, re.MULTILINE) is None


def test_started_by_sh_it_reruns_itself_with_bash() -> None:
    """`sh FILE` (dash on Debian) must not run a bash script; it re-executes under bash.

    Runs as an unprivileged user, so the script stops at its root check and changes nothing.
    """
    with tempfile.TemporaryDirectory() as folder:  # pytest's tmp_path is closed to others
        Path(folder).chmod(0o755)
        script = Path(folder) / "tuning.sh"
        script.write_text(tuning_script(make_spec(**LOCAL_POOL), "worker", local_machine=True))
        script.chmod(0o644)
        command = ["sh", str(script)]
        if os.geteuid() == 0:  # never run it as root here: it would tune this machine
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 1, result.stderr
    assert result.stderr == "swarmstack: error: run me as root (sudo)\n"
