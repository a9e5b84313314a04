"""`doctor` on an export: model.json parses as a graph model, every shard is there with the byte count
its weights need, every op is in TF.js's op list, the files match the seal report.json recorded at
conversion (a tampered or truncated file is J2T312; an export converted before seals existed is a
warning), the metadata, report.json (the web index needs it) and golden.json are there, the page's
index lists it, and optionally TF.js itself reproduces golden.json within its quantization's limit
(compare.GOLDEN_LIMITS, the numbers verify judges with).

The seal is read before anything else; its finding follows the structural ones, so a damage that
has a more specific diagnosis (a truncated shard, a jax2tf graph) is named by that first."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from jax2tfjs import compare, hashing, signature
from jax2tfjs.doctor.findings import OK, WARNING, Finding, from_error
from jax2tfjs.errors import ExportError, ExportIntegrityError, MissingTfjsOpError
from jax2tfjs.export import golden as golden_file
from jax2tfjs.export import publish
from jax2tfjs.export.tfjs_convert import NON_COMPUTE_OPS, tfjs_op_names
from jax2tfjs.tfjs_runtime import run_in_tfjs

DTYPE_BYTES = {"float32": 4, "int32": 4, "bool": 1, "float16": 2, "uint16": 2, "uint8": 1, "complex64": 8}


def _weights_bytes(group: dict[str, Any]) -> int | None:
    """Bytes the group's weights occupy in its shards; None when a dtype has no fixed size."""
    total = 0
    for weight in group.get("weights", []):
        dtype = (weight.get("quantization") or {}).get("dtype") or weight.get("dtype")
        if dtype not in DTYPE_BYTES:
            return None
        total += math.prod(weight.get("shape") or [1]) * DTYPE_BYTES[dtype]
    return total


def _check_shards(folder: Path, manifest: list[dict[str, Any]]) -> list[Finding]:
    findings = []
    for number, group in enumerate(manifest, 1):
        paths = group.get("paths", [])
        missing = [p for p in paths if not (folder / p).is_file()]
        if missing:
            err = ExportError(
                f"weight shards missing: {', '.join(missing)}", fix="re-run `make convert` for this export"
            )
            findings.append(from_error("weights", err))
            continue
        have = sum((folder / p).stat().st_size for p in paths)
        need = _weights_bytes(group)
        if need is not None and have != need:
            err = ExportError(
                f"weight group {number}: its shards ({', '.join(paths)}) hold {have:,} bytes; model.json's weights need {need:,}",
                fix="the export is truncated or mixed with another one: re-run `make convert` for it",
            )
            findings.append(from_error("weights", err))
        else:
            weights = len(group.get("weights", []))
            findings.append(
                Finding(OK, "weights", f"{len(paths)} shard(s), {have:,} bytes for {weights} weights")
            )
    return findings


def _check_ops(nodes: list[dict[str, Any]]) -> Finding:
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node["op"]] = counts.get(node["op"], 0) + 1
    known = tfjs_op_names() | NON_COMPUTE_OPS
    missing = sorted(op for op in counts if op not in known)
    if missing:
        err = MissingTfjsOpError(
            f"the graph uses ops TF.js lacks: {', '.join(f'{op}×{counts[op]}' for op in missing)}",
            fix="convert the model with jax2tfjs (it lowers to plain TF ops); an XlaCallModule graph comes from "
            "jax2tf/convert_jax, which TF.js cannot run",
        )
        return from_error("ops", err)
    compute = sum(n for op, n in counts.items() if op not in NON_COMPUTE_OPS)
    return Finding(OK, "ops", f"{compute} compute ops, all in TF.js's op list ({', '.join(sorted(counts))})")


def _check_golden(folder: Path, quantization: str, run: bool, backend: str) -> list[Finding]:
    if not (folder / golden_file.GOLDEN_FILE).exists():
        return [
            Finding(
                WARNING, "golden.json", "missing: the page and the Node runner cannot self-check this export"
            )
        ]
    try:
        golden = golden_file.read(folder)
    except ExportError as err:
        return [from_error("golden.json", err)]
    findings = [Finding(OK, "golden.json", f"{golden.rows} examples: {golden.describe()}")]
    if not run:
        return findings
    try:
        # The runner's own golden self-check is off: golden.json is compared here, once.
        outputs, info = run_in_tfjs(
            folder, golden.inputs, backend, warmup=0, repeats=1, golden_self_check=False
        )
    except ExportError as err:
        return [*findings, from_error("tfjs", err)]
    # The same rule verify, the zoo and the corpus use (jax2tfjs.compare), output by output.
    result = compare.compare_named(outputs, golden.outputs)
    worst = f" (worst output: {result.worst_output})" if result.worst_output else ""
    measured = f"max |Δ| {result.max_abs_diff:.2e}, relative error {result.rel_err:.2e}{worst}"
    limit = compare.golden_limit(quantization)
    if not result.within(limit):
        err = ExportError(
            f"TF.js ({backend}) differs from golden.json: {measured} > {limit:g} at {quantization} "
            f"({compare.RELATIVE_RULE})",
            fix="re-convert; if it persists, report it with this export (a lowering rule computes something else)",
        )
        findings.append(from_error("tfjs", err))
    else:
        findings.append(
            Finding(
                OK,
                "tfjs",
                f"TF.js {info.get('tfjs_version', '')} ({backend}) reproduces golden.json: {measured} "
                f"≤ {limit:g} ({quantization})",
            )
        )
    return findings


def _check_listing(folder: Path) -> Finding | None:
    """Whether the web page's index (two levels up) lists this export."""
    root = folder.parent.parent
    index_path = root / publish.INDEX_FILE
    if not index_path.exists():
        return None
    try:
        listed = {e["model_json"] for e in json.loads(index_path.read_text()).get("exports", [])}
    except (OSError, ValueError, KeyError):
        return Finding(WARNING, "web index", f"{index_path} is unreadable; the page will list no exports")
    if f"{folder.parent.name}/{folder.name}/model.json" in listed:
        return Finding(OK, "web index", f"listed in {index_path}")
    return Finding(
        WARNING,
        "web index",
        f"not listed in {index_path}, so `make web` does not offer it",
        fix=f"python -c 'from jax2tfjs.export import publish; publish.rebuild(\"{root}\")'",
    )


def _check_seal(folder: Path) -> Finding:
    """The export's files against report.json's seal, before anything reads them."""
    path = folder / "report.json"
    try:
        report = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError) as err:
        report = None
        cause = f"report.json, which holds the seal, is unreadable: {err}"
    else:
        cause = "report.json, which holds the seal, is not a JSON object"
    if not isinstance(report, dict):
        return from_error(
            "seal", ExportError(cause, fix="re-run `make convert` for this export", path=folder)
        )
    try:
        unsealed = hashing.check_seal(folder, report)
    except ExportIntegrityError as err:
        return from_error("seal", err)
    if unsealed:
        return Finding(
            WARNING, "seal", unsealed.split(";")[0], fix="re-run `make convert` for this export to seal it"
        )
    return Finding(OK, "seal", f"{len(report[hashing.SEAL_KEY])} files match the hashes report.json sealed")


def _io(meta: dict[str, Any]) -> str:
    """The export's inputs and outputs in a few words, from its signature."""
    found = signature.from_metadata(meta)
    if found is None:
        return "no signature"
    ins = ", ".join(f"{t.name} {t.shape} {t.dtype}" for t in found.inputs)
    outs = ", ".join(t.name for t in found.outputs)
    return f"inputs {ins}; outputs {outs}"


def check_export(folder: Path, *, golden: bool = False, backend: str = "wasm") -> list[Finding]:
    seal = _check_seal(folder)
    try:
        model_json = json.loads((folder / "model.json").read_text())
        topology, manifest = model_json["modelTopology"], model_json["weightsManifest"]
        if not isinstance(topology, dict) or not isinstance(manifest, list):
            raise TypeError("modelTopology is not an object or weightsManifest not a list")
    except (OSError, ValueError, KeyError, TypeError) as err:
        cause = (
            "model.json is missing"
            if isinstance(err, FileNotFoundError)
            else f"model.json is not a graph model: {err}"
        )
        return [
            from_error(
                "model.json", ExportError(cause, fix="re-run `make convert` for this export", path=folder)
            ),
            seal,
        ]
    nodes = topology.get("node", [])
    findings = [Finding(OK, "model.json", f"{model_json.get('format', '?')}, {len(nodes)} nodes")]
    findings += _check_shards(folder, manifest)
    findings += [_check_ops(nodes), seal]
    meta = publish.jax2tfjs_metadata(model_json)
    if meta:
        source = meta.get("source") or {}
        origin = f", from {source['checkpoint']}" if source.get("checkpoint") else ""
        fixes = f"; auto-fixes: {len(meta['autofixes'])}" if meta.get("autofixes") else ""
        findings.append(
            Finding(
                OK,
                "metadata",
                f"model {meta.get('model')}, quantization {meta.get('quantization')}, {_io(meta)}{origin}{fixes}",
            )
        )
    else:
        findings.append(
            Finding(WARNING, "metadata", "no jax2tfjs metadata: not written by jax2tfjs (no provenance)")
        )
    if (folder / "report.json").exists():
        findings.append(Finding(OK, "report.json", "present"))
    else:
        findings.append(
            Finding(
                WARNING,
                "report.json",
                "missing: the exports index (and so `make web`) skips this export",
                fix="re-run `make convert`",
            )
        )
    findings += _check_golden(folder, meta.get("quantization", "none"), golden, backend)
    listing = _check_listing(folder)
    return findings + ([listing] if listing else [])
