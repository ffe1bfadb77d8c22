"""The busybox test image is a valid `docker load` archive (checked by structure here; the
integration tests load and run it inside a machine)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from swarmstack.errors import LocalProviderError
from swarmstack.provisioners.local import images, paths


def test_busybox_image_has_manifest_config_and_one_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "IMAGES", tmp_path)
    fake_busybox = tmp_path / "busybox"
    fake_busybox.write_bytes(b"\x7fELF not really busybox")
    archive_path = images.busybox_image(fake_busybox)
    with tarfile.open(archive_path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["RepoTags"] == ["swarmstack/busybox:latest"]
        config_bytes = archive.extractfile(manifest[0]["Config"]).read()  # type: ignore[union-attr]
        config = json.loads(config_bytes)
        layer_bytes = archive.extractfile(manifest[0]["Layers"][0]).read()  # type: ignore[union-attr]
    assert manifest[0]["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()]
    assert config["config"]["Cmd"] == ["/bin/sh"]
    with tarfile.open(fileobj=io.BytesIO(layer_bytes)) as layer:
        busybox = layer.getmember("bin/busybox")
        assert busybox.mode == 0o755
        content = layer.extractfile(busybox).read()  # type: ignore[union-attr]
        assert layer.getmember("bin/sh").linkname == "busybox"
    assert content == fake_busybox.read_bytes()


def test_missing_busybox_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "IMAGES", tmp_path)
    with pytest.raises(LocalProviderError, match="not found") as error:
        images.busybox_image(tmp_path / "no-busybox")
    assert error.value.hint is not None
    assert "busybox-static" in error.value.hint


def test_the_image_daemon_json_is_the_host_tunings_and_stays_in_the_benchmark_range() -> None:
    import ipaddress

    from swarmstack.cloudinit.tuning import DAEMON_JSON, host_tuning
    from swarmstack.provisioners.local.plan import SWARM_DEFAULT_ADDR_POOL
    from swarmstack.spec import ClusterSpec

    spec = ClusterSpec.model_validate({"default_addr_pool": [SWARM_DEFAULT_ADDR_POOL]})
    for role in ("manager", "worker"):
        tuning = host_tuning(spec, role, "generic", local_machine=True)
        tuned = {f.path: f.content for f in tuning.files}[DAEMON_JSON]
        # Byte for byte: the first tuning of a fresh machine finds nothing to change.
        assert images.image_daemon_json() == tuned
    config = json.loads(images.image_daemon_json())
    assert "bip" not in config  # docker0 comes from the pools below
    benchmark = ipaddress.IPv4Network("198.19.0.0/16")
    for pool in config["default-address-pools"]:
        assert ipaddress.IPv4Network(pool["base"]).subnet_of(benchmark)
        assert not ipaddress.IPv4Network(pool["base"]).overlaps(
            ipaddress.IPv4Network(SWARM_DEFAULT_ADDR_POOL)
        )
