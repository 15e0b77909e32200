# SPDX-License-Identifier: Apache-2.0
"""`docker save` and `docker load`: docker-archive and OCI image layout tarballs.

What `save` writes (Docker ≥ 25's layout: a docker-archive that is also an OCI layout)::

    blobs/sha256/<hex>     image configs, uncompressed layer tars, OCI manifests
    index.json             OCI index: one manifest entry per tag (annotated with its name)
    manifest.json          docker-archive: [{"Config", "RepoTags", "Layers"}] (paths into blobs/)
    oci-layout             {"imageLayoutVersion": "1.0.0"}
    repositories           legacy {"name": {"tag": "<top layer hex>"}}

`load` reads that, older docker-archives (`<hex>.json`, `<id>/layer.tar`), the pre-1.10
format with only `repositories` and `<id>/json`, and plain OCI layouts (`index.json`,
nested indexes resolved to the host platform). Archives may be gzip, bzip2 or xz.

The outer tar is read once, as a stream: each file goes to a staging directory (order in
the tar is arbitrary, and layers can only be unpacked once the manifest says in which
order). Small JSON files are the only thing read into memory. Every layer is checked
against the diff ID its config names, and every blob named by a digest against that
digest; all images of one archive are then registered in one transaction, so a bad
archive leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.distribution import reference
from dockyard.errors import DockyardError, InvalidParameter, NotFound, json_input
from dockyard.images.platform import host_arch, host_variant
from dockyard.snapshots.archive import CHUNK, decompressed, iter_tar

if TYPE_CHECKING:
    from dockyard.images.service import ImageService, PendingImage

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
NAME_ANNOTATION = "io.containerd.image.name"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

_MAX_JSON = 64 << 20
_DIGEST_NAME_RE = re.compile(r"(?:blobs/sha256/)?([a-f0-9]{64})(?:\.json)?")


def load_archive(service: ImageService, stream: BinaryIO) -> list[str]:
    """Load every image in the archive; returns Docker's progress messages."""
    service.tmp_dir.joinpath("load").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=service.tmp_dir / "load", prefix="load-"))
    try:
        bundle = _Bundle.stage(stream, staging)
        plans = _plans(bundle)
        with service.ingesting() as made:
            loaded = [(_ingest(service, bundle, plan, made), plan.tags) for plan in plans]
            moved = dict(service.register(loaded))
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    messages = []
    for pending, tags in loaded:
        for tag in tags:
            if tag in moved:
                messages.append(
                    f"The image {reference.familiar(tag)} already exists, renaming the old one "
                    f"with ID {moved[tag]} to empty string"
                )
            messages.append(f"Loaded image: {reference.familiar(tag)}")
        if not tags:
            messages.append(f"Loaded image ID: {pending.id}")
    return messages


def save_archive(
    service: ImageService, names: list[str], out: BinaryIO, hold: Callable[[], ContextManager[Any]]
) -> None:
    """Write the named images (all tags of a bare repository name) to `out` as a tar.

    `hold()` keeps blobs from being collected while they are looked up and opened; the
    open files stay readable after that even if an rmi unlinks them, so a slow reader of
    `out` never holds up deletes.
    """
    if not names:
        raise InvalidParameter("no images specified")
    opened: dict[str, BinaryIO] = {}
    try:
        with hold():
            plan = _save_plan(service, _select(service, names), opened)
        _write_archive(out, *plan, opened)
    finally:
        for f in opened.values():
            f.close()


def _save_plan(
    service: ImageService, selected: dict[str, list[str]], opened: dict[str, BinaryIO]
) -> tuple[dict[str, bytes | None], dict[str, Any], list[dict[str, Any]], dict[str, dict[str, str]]]:
    blobs: dict[str, bytes | None] = {}  # hex → bytes to write, or None: a file in `opened`
    manifest_json: list[dict[str, Any]] = []
    index_entries: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image_id, refs in selected.items():
        record = service.db.get_image(image_id)
        if record is None:
            raise NotFound(f"No such image: {image_id}")
        config_bytes = service.content.read(image_id)
        layer_descriptors = []
        for chain in record.chain_ids:
            layer = service.layer_record(chain)
            digest = layer.blob_digest or ""
            if _hex(digest) not in opened:
                try:
                    opened[_hex(digest)] = service.content.open(digest)
                except (NotFound, InvalidParameter):
                    raise DockyardError(f"layer {chain} of {image_id} has no stored tar to save") from None
            size = os.fstat(opened[_hex(digest)].fileno()).st_size
            layer_descriptors.append({"mediaType": OCI_LAYER, "digest": digest, "size": size})
            blobs[_hex(digest)] = None
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": image_id, "size": len(config_bytes)},
            "layers": layer_descriptors,
        }
        manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
        manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
        blobs[_hex(image_id)] = config_bytes
        blobs[_hex(manifest_digest)] = manifest_bytes

        descriptor = {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest_bytes)}
        for ref in refs:
            parsed = reference.parse(ref)
            index_entries.append(
                {**descriptor, "annotations": {NAME_ANNOTATION: ref, REF_NAME_ANNOTATION: parsed.tag}}
            )
            if layer_descriptors:
                top = _hex(layer_descriptors[-1]["digest"])
                repositories.setdefault(parsed.familiar_name, {})[parsed.tag or "latest"] = top
        if not refs:
            index_entries.append(descriptor)
        manifest_json.append(
            {
                "Config": f"blobs/sha256/{_hex(image_id)}",
                "RepoTags": [reference.familiar(r) for r in refs] or None,
                "Layers": [f"blobs/sha256/{_hex(d['digest'])}" for d in layer_descriptors],
            }
        )

    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_entries}
    return blobs, index, manifest_json, repositories


def _write_archive(
    out: BinaryIO,
    blobs: dict[str, bytes | None],
    index: dict[str, Any],
    manifest_json: list[dict[str, Any]],
    repositories: dict[str, dict[str, str]],
    opened: dict[str, BinaryIO],
) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        _add_dir(tf, "blobs")
        _add_dir(tf, "blobs/sha256")
        for hexpart in sorted(blobs):
            data = blobs[hexpart]
            name = f"blobs/sha256/{hexpart}"
            if data is not None:
                _add_bytes(tf, name, data)
            else:
                f = opened[hexpart]
                _add_file(tf, name, f, os.fstat(f.fileno()).st_size)
        _add_bytes(tf, "index.json", _json_bytes(index))
        _add_bytes(tf, "manifest.json", _json_bytes(manifest_json))
        _add_bytes(tf, "oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"}))
        if repositories:
            _add_bytes(tf, "repositories", _json_bytes(repositories))


# ── reading archives ────────────────────────────────────────────────────────────


@dataclass
class _Plan:
    """One image to load: where its config and layers are in the archive, and its tags."""

    layers: list[str]
    tags: list[str]
    config: bytes | None = None  # exact bytes: the image ID is their hash
    config_name: str = ""
    config_digest: str | None = None  # when the archive names the config by its digest
    legacy: list[dict[str, Any]] = field(default_factory=list)  # v1 layer JSONs, bottom first


class _Bundle:
    """The files of an archive, staged on disk and looked up by their path in the tar."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, Path] = {}
        self.links: dict[str, str] = {}

    @classmethod
    def stage(cls, stream: BinaryIO, root: Path) -> _Bundle:
        bundle = cls(root)
        try:
            for member, tf in iter_tar(decompressed(stream)):
                name = _archive_name(member.name)
                if member.isreg():
                    path = root / f"{len(bundle.files):06d}"
                    src = tf.extractfile(member)
                    assert src is not None
                    with open(path, "wb") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
                    bundle.files[name] = path
                elif member.issym():
                    if member.linkname.startswith("/"):
                        raise InvalidParameter(f"invalid archive: symlink {name} points outside the archive")
                    bundle.links[name] = _archive_name(
                        posixpath.join(posixpath.dirname(name), member.linkname)
                    )
                elif member.islnk():
                    bundle.links[name] = _archive_name(member.linkname)
        except tarfile.TarError as e:
            raise InvalidParameter(f"invalid archive: {e}") from e
        return bundle

    def resolve(self, name: str) -> Path | None:
        for _ in range(64):
            if name in self.files:
                return self.files[name]
            if name not in self.links:
                return None
            name = self.links[name]
        return None

    def has(self, name: str) -> bool:
        return self.resolve(name) is not None

    def open(self, name: str) -> BinaryIO:
        path = self.resolve(_archive_name(name))
        if path is None:
            raise InvalidParameter(f"invalid archive: {name} is missing")
        return open(path, "rb")

    def read(self, name: str) -> bytes:
        path = self.resolve(_archive_name(name))
        if path is None:
            raise InvalidParameter(f"invalid archive: {name} is missing")
        if path.stat().st_size > _MAX_JSON:
            raise InvalidParameter(f"invalid archive: {name} is too large")
        return path.read_bytes()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except ValueError as e:
            raise InvalidParameter(f"invalid archive: {name} is not valid JSON: {e}") from e

    def blob(self, descriptor: Any) -> bytes:
        """A small blob by OCI descriptor, checked against its digest."""
        digest = _descriptor_digest(descriptor)
        algorithm, _, hexpart = digest.partition(":")
        data = self.read(f"blobs/{algorithm}/{hexpart}")
        if hashlib.new(algorithm, data).hexdigest() != hexpart:
            raise InvalidParameter(f"invalid archive: blob {digest} does not match its digest")
        return data


def _plans(bundle: _Bundle) -> list[_Plan]:
    if bundle.has("manifest.json"):
        return _docker_plans(bundle)
    if bundle.has("index.json"):
        return _oci_plans(bundle)
    if bundle.has("repositories"):
        return _legacy_plans(bundle)
    raise InvalidParameter(
        "invalid archive: no manifest.json, index.json or repositories file; "
        "is this a file written by `docker save`?"
    )


def _docker_plans(bundle: _Bundle) -> list[_Plan]:
    manifest = bundle.json("manifest.json")
    if not isinstance(manifest, list):
        raise InvalidParameter("invalid archive: manifest.json is not a list")
    plans = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidParameter("invalid archive: manifest.json entry without Config")
        layers = entry.get("Layers") or []
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise InvalidParameter("invalid archive: manifest.json Layers is not a list of paths")
        tags = []
        for tag in entry.get("RepoTags") or []:
            ref = reference.parse(tag) if isinstance(tag, str) else None
            if ref is None or ref.tag is None or ref.digest is not None:
                raise InvalidParameter(f"invalid tag {tag!r}")
            tags.append(str(ref))
        name = entry["Config"]
        match = _DIGEST_NAME_RE.fullmatch(_archive_name(name))
        plans.append(
            _Plan(
                layers=layers,
                tags=tags,
                config=bundle.read(name),
                config_name=name,
                config_digest=f"sha256:{match.group(1)}" if match else None,
            )
        )
    return plans


def _oci_plans(bundle: _Bundle) -> list[_Plan]:
    index = bundle.json("index.json")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise InvalidParameter("invalid archive: index.json has no manifests")
    by_manifest: dict[str, _Plan] = {}
    for descriptor in index["manifests"]:
        tag = _oci_name(descriptor)
        manifest_descriptor = _pick_manifest(bundle, descriptor)
        digest = _descriptor_digest(manifest_descriptor)
        plan = by_manifest.get(digest)
        if plan is None:
            manifest = _json_value(bundle.blob(manifest_descriptor), digest)
            config_descriptor = manifest.get("config") if isinstance(manifest, dict) else None
            layer_descriptors = manifest.get("layers") if isinstance(manifest, dict) else None
            if not isinstance(config_descriptor, dict) or not isinstance(layer_descriptors, list):
                raise InvalidParameter(f"invalid archive: manifest {digest} lacks config or layers")
            config_digest = _descriptor_digest(config_descriptor)
            layer_names = []
            for layer in layer_descriptors:
                algorithm, _, hexpart = _descriptor_digest(layer).partition(":")
                layer_names.append(f"blobs/{algorithm}/{hexpart}")
            plan = _Plan(
                layers=layer_names,
                tags=[],
                config=bundle.blob(config_descriptor),
                config_name=f"blobs/{config_digest.replace(':', '/')}",
                config_digest=config_digest,
            )
            by_manifest[digest] = plan
        if tag and tag not in plan.tags:
            plan.tags.append(tag)
    return list(by_manifest.values())


def _legacy_plans(bundle: _Bundle) -> list[_Plan]:
    repositories = bundle.json("repositories")
    if not isinstance(repositories, dict):
        raise InvalidParameter("invalid archive: repositories is not an object")
    by_id: dict[str, list[str]] = {}
    for name, tags in repositories.items():
        if not isinstance(tags, dict):
            raise InvalidParameter("invalid archive: repositories entry is not an object")
        for tag, layer_id in tags.items():
            ref = reference.parse(name).with_tag(tag)
            by_id.setdefault(str(layer_id), []).append(str(ref))
    plans = []
    for top, tags in by_id.items():
        chain: list[str] = []
        jsons: list[dict[str, Any]] = []
        layer_id: str | None = top
        while layer_id:
            if layer_id in chain or not re.fullmatch(r"[a-f0-9]{64}", layer_id):
                raise InvalidParameter(f"invalid archive: bad layer id {layer_id!r}")
            meta = bundle.json(f"{layer_id}/json")
            if not isinstance(meta, dict):
                raise InvalidParameter(f"invalid archive: {layer_id}/json is not an object")
            chain.insert(0, layer_id)
            jsons.insert(0, meta)
            layer_id = meta.get("parent") or None
        plans.append(_Plan(layers=[f"{i}/layer.tar" for i in chain], tags=tags, legacy=jsons))
    return plans


def _ingest(service: ImageService, bundle: _Bundle, plan: _Plan, made: list[str]) -> PendingImage:
    from dockyard.images.service import PendingImage

    if plan.config is None:
        return _ingest_legacy(service, bundle, plan, made)
    config = _json_value(plan.config, plan.config_name)
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise InvalidParameter(f"invalid archive: image config {plan.config_name} has no rootfs.diff_ids")
    if len(diff_ids) != len(plan.layers):
        raise InvalidParameter(
            f"invalid manifest, layers length mismatch: expected {len(diff_ids)}, got {len(plan.layers)}"
        )
    try:
        image_id = service.store_blob(plan.config, plan.config_digest, made)
    except InvalidParameter as e:
        raise InvalidParameter(f"invalid archive: {plan.config_name}: {e.message}") from e
    layers = []
    for name, diff_id in zip(plan.layers, diff_ids, strict=True):
        layers.append(_layer(service, bundle, name, layers[-1].chain_id if layers else None, diff_id, made))
    return PendingImage(image_id, config, layers, "")


def _ingest_legacy(service: ImageService, bundle: _Bundle, plan: _Plan, made: list[str]) -> PendingImage:
    from dockyard.images.service import PendingImage

    layers = []
    for name in plan.layers:
        layers.append(_layer(service, bundle, name, layers[-1].chain_id if layers else None, None, made))
    config = {k: v for k, v in plan.legacy[-1].items()
              if k not in ("id", "parent", "Size", "parent_id", "layer_id", "throwaway", "checksum")}
    history = []
    for meta in plan.legacy:
        cmd = (meta.get("container_config") or {}).get("Cmd") or []
        entry = {
            "created": meta.get("created") or "",
            "author": meta.get("author") or "",
            "created_by": " ".join(cmd) if isinstance(cmd, list) else str(cmd),
            "comment": meta.get("comment") or "",
        }
        history.append({k: v for k, v in entry.items() if v})
    config["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}
    config["history"] = history
    image_id = service.store_blob(json.dumps(config, separators=(",", ":")).encode(), None, made)
    return PendingImage(image_id, config, layers, "")


def _layer(service: ImageService, bundle: _Bundle, name: str, parent: str | None,
           diff_id: str | None, made: list[str]):
    try:
        with bundle.open(name) as f:
            return service.ingest_layer(parent, f, diff_id, made)
    except InvalidParameter as e:
        raise InvalidParameter(f"invalid archive: layer {name}: {e.message}") from e


def _pick_manifest(bundle: _Bundle, descriptor: Any) -> dict[str, Any]:
    """Follow nested indexes down to the manifest for this host's platform."""
    for _ in range(8):
        if not isinstance(descriptor, dict):
            raise InvalidParameter("invalid archive: bad descriptor in index")
        media_type = descriptor.get("mediaType")
        if media_type not in INDEX_TYPES:
            if media_type not in MANIFEST_TYPES and media_type is not None:
                raise InvalidParameter(f"invalid archive: unsupported manifest type {media_type}")
            return descriptor
        index = _json_value(bundle.blob(descriptor), _descriptor_digest(descriptor))
        entries = [
            m for m in (index.get("manifests") or [])
            if isinstance(m, dict)
            and (m.get("annotations") or {}).get("vnd.docker.reference.type") != "attestation-manifest"
        ]
        descriptor = _for_host(entries)
    raise InvalidParameter("invalid archive: indexes nested too deeply")


def _for_host(entries: list[dict[str, Any]]) -> dict[str, Any]:
    arch, variant = host_arch(), host_variant()
    def platform(m: dict[str, Any]) -> dict[str, Any]:
        return m.get("platform") or {}
    exact = [m for m in entries if platform(m).get("os", "linux") == "linux"
             and platform(m).get("architecture") == arch
             and platform(m).get("variant", variant) in (variant, "")]
    if exact:
        return exact[0]
    if len(entries) == 1:
        return entries[0]
    raise InvalidParameter(f"invalid archive: no image for platform linux/{arch} in the index")


def _oci_name(descriptor: Any) -> str | None:
    annotations = (descriptor.get("annotations") or {}) if isinstance(descriptor, dict) else {}
    name = annotations.get(NAME_ANNOTATION)
    if not name:
        # The OCI annotation may be a bare tag ("latest"), which names no repository.
        ref_name = annotations.get(REF_NAME_ANNOTATION) or ""
        name = ref_name if ("/" in ref_name or ":" in ref_name) else None
    if not name:
        return None
    try:
        ref = reference.parse(name)
    except InvalidParameter:
        return None
    if ref.digest is not None:
        return None
    return str(ref.with_default_tag())


def _descriptor_digest(descriptor: Any) -> str:
    digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
    if not isinstance(digest, str) or not re.fullmatch(r"sha(256|384|512):[a-f0-9]+", digest):
        raise InvalidParameter(f"invalid archive: bad digest in descriptor {descriptor!r}")
    return digest


def _json_value(data: bytes, what: str) -> Any:
    return json_input(data, dict, f"invalid archive: {what} is not valid JSON")


def _archive_name(name: str) -> str:
    if name.startswith("/"):
        raise InvalidParameter(f"invalid archive: absolute path {name!r}")
    cleaned = posixpath.normpath(name)
    if cleaned == ".." or cleaned.startswith("../"):
        raise InvalidParameter(f"invalid archive: path {name!r} escapes the archive")
    return cleaned


# ── writing archives ────────────────────────────────────────────────────────────


def _select(service: ImageService, names: list[str]) -> dict[str, list[str]]:
    """Image ID → normalized tags to save, following `docker save`'s rules for names."""
    selected: dict[str, list[str]] = {}

    def add(image_id: str, ref: str | None) -> None:
        refs = selected.setdefault(image_id, [])
        if ref is not None and "@" not in ref and ref not in refs:
            refs.append(ref)

    for name in names:
        if reference.is_image_id(name):
            add(service.resolve(name)[0], None)
            continue
        ref = reference.parse(name)
        if ref.familiar_name == "sha256":
            add(service.resolve(name)[0], None)  # "sha256:<short id>"
            continue
        if ref.name_only:
            tags = service.refs_by_name(ref.name)
            for tag_ref, image_id in tags:
                add(image_id, tag_ref)
            if not tags:
                add(service.resolve(name)[0], None)
            continue
        image_id, found_by = service.resolve(name)
        add(image_id, str(found_by.with_default_tag()) if found_by is not None else None)
    return selected


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _add_dir(tf: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tf.addfile(info)


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    _add_file(tf, name, io.BytesIO(data), len(data))


def _add_file(tf: tarfile.TarFile, name: str, f: BinaryIO, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    tf.addfile(info, f)
