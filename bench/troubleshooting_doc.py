"""docs/troubleshooting.md, generated from the error taxonomy (tests/convert_env/test_docs.py fails when stale).

`python -m bench.troubleshooting_doc > docs/troubleshooting.md`
"""

from __future__ import annotations

from jax2tfjs.taxonomy import AREAS, Entry, entries

HEADER = """# Troubleshooting

Generated from the error classes in `jax2tfjs.errors` by
`python -m bench.troubleshooting_doc > docs/troubleshooting.md`; do not edit by hand
(`tests/convert_env/test_docs.py` fails when this file is stale).

Every failure is a `jax2tfjs.errors.Jax2TfjsError` with a stable `code`, the `cause` in your terms
and a `fix`. Jobs print it as two lines instead of a traceback and exit with code 2 (the memory
guard: 86):

```
J2T308: 1 parameter has another shape than the model's: params/Conv_0/kernel given (32, 1, 3, 3), …
  fix: auto-fix would make that change: params/Conv_0/kernel: read (32, 1, 3, 3) as OIHW (PyTorch …
```

**Auto-fix** is on by default (`to_tensorflowjs(..., autofix=False)` or
`jobs/convert.py --no-autofix` turns it off). Before tracing, the parameters are compared with what
the model expects (a linen module: `jax.eval_shape(module.init, …)` on the input spec; a checkpoint:
its registry model's `init`; a plain function or an nnx module: dtypes only). What has exactly one
fix is fixed and listed in `report.autofixes` (and printed); what has none, or several that fit
equally, is refused with the candidates named. With auto-fix off, each fix it would make is an
error with the code below.

**Doctor** checks a checkpoint or an export folder without converting it:
`.venv/convert/bin/python jobs/doctor.py <folder>` (or `jax2tfjs doctor <folder>`) prints one line
per check, `ok`, `warning` or `error` with the code and the fix, and exits 2 when there are errors.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(entry: Entry) -> list[str]:
    lines = [
        f"### {entry.code} `{entry.name}`",
        "",
        f"**When**: {entry.summary}. Caught as `{entry.parent}`; exit code {entry.exit_code}.",
        "",
        "```",
        entry.example,
        "```",
        "",
    ]
    if entry.autofix:
        lines += [f"Auto-fix: {entry.autofix}.", ""]
    return lines


def render() -> str:
    rows = entries()
    lines = [
        HEADER,
        f"## Codes ({len(rows)})\n",
        "| code | class | when | auto-fix |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| [{e.code}](#{e.code.lower()}-{e.name.lower()}) | `{e.name}` | {_cell(e.summary)} | "
        f"{'yes, when exactly one reading fits' if e.autofix else ''} |"
        for e in rows
    ]
    lines.append("")
    for digit, area in AREAS.items():
        in_area = [e for e in rows if e.code[3] == digit]
        if in_area:
            lines += [f"## {area[0].upper()}{area[1:]}", ""]
            for entry in in_area:
                lines += _section(entry)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
