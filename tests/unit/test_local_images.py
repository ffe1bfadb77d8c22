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
