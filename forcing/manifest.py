"""Manifests that make the forcing stage idempotent.

Contract: every finished output ``X`` has a sidecar ``X.manifest.json`` recording the file's
SHA-256 and size, the parameters it was made with and a fingerprint of its inputs (name, size,
modification time). :func:`is_complete` says whether ``X`` can be reused: the file and manifest
exist, parameters and inputs are unchanged and the checksum matches. Anything else (no
manifest, a file truncated or edited after the fact, changed inputs) means "redo". The sidecar
is written atomically *after* the output, so a crash between the two leaves an output without
manifest, which is redone.

Why a sidecar per output rather than one manifest per directory: outputs are written by
parallel tasks (dask workers, Prefect tasks); one file each needs no locking.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forcing.fileio import atomic_path, sha256_file

logger = logging.getLogger(__name__)


def manifest_path(output: Path) -> Path:
    return output.with_name(output.name + ".manifest.json")


def fingerprint(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Cheap identity of input files: name, size and modification time (ns)."""
    out = []
    for p in sorted(Path(x) for x in paths):
        st = p.stat()
        out.append({"name": p.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def write_manifest(
    output: Path, params: dict[str, Any], inputs: list[dict[str, Any]], extra: dict | None = None
) -> dict[str, Any]:
    """Record ``output``'s checksum, parameters and inputs in its sidecar; returns the record."""
    record = {
        "file": output.name,
        "sha256": sha256_file(output),
        "size": output.stat().st_size,
        "params": params,
        "inputs": inputs,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    with atomic_path(manifest_path(output)) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    return record


def read_manifest(output: Path) -> dict[str, Any] | None:
    path = manifest_path(output)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return None


def is_complete(output: Path, params: dict[str, Any], inputs: list[dict[str, Any]]) -> bool:
    """True when ``output`` matches its manifest, the parameters and the inputs."""
    output = Path(output)
    if not output.exists():
        return False
    record = read_manifest(output)
    if record is None:
        logger.info("%s: no manifest, will redo", output)
        return False
    if record.get("params") != params:
        logger.info("%s: made with other parameters, will redo", output)
        return False
    if record.get("inputs") != inputs:
        logger.info("%s: inputs changed, will redo", output)
        return False
    if record.get("size") != output.stat().st_size or record.get("sha256") != sha256_file(output):
        logger.warning(
            "%s: checksum does not match its manifest (partial or edited), will redo", output
        )
        return False
    return True


def invalidate(output: Path) -> None:
    """Remove an output's manifest (before rewriting it)."""
    manifest_path(output).unlink(missing_ok=True)
