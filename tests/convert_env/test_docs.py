"""Generated docs stay in step with the code."""

from __future__ import annotations

import json
import re
import subprocess

from bench import coverage_doc as coverage
from conftest import ROOT, venv_python


def test_coverage_doc_is_generated_from_the_registry():
    on_disk = (ROOT / "docs" / "coverage.md").read_text()
    assert on_disk == coverage.render(), "docs/coverage.md is stale: run `make docs`"


def test_api_example_runs_and_converts_a_users_own_flax_model(tmp_path):
    from conftest import run

    proc = run([venv_python("convert"), ROOT / "docs/examples/convert_own_flax_model.py", tmp_path / "out"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "max |TF.js - JAX|" in proc.stdout and (tmp_path / "out" / "model.json").exists()


def test_troubleshooting_doc_is_generated_from_the_error_taxonomy():
    from bench import troubleshooting_doc as troubleshooting

    on_disk = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert on_disk == troubleshooting.render(), (
        "docs/troubleshooting.md is stale: run "
        "`.venv/convert/bin/python -m bench.troubleshooting_doc > docs/troubleshooting.md`"
    )


def test_every_error_code_is_documented_once_and_api_md_links_there():
    from jax2tfjs import errors

    doc = (ROOT / "docs" / "troubleshooting.md").read_text()
    for code, cls in errors.BY_CODE.items():
        assert doc.count(f"### {code} `{cls.__name__}`") == 1, code
    api = (ROOT / "docs" / "api.md").read_text()
    assert "troubleshooting.md" in api and "| J2T" not in api  # one table of codes, the generated one


def test_tutorial_blocks_run_as_one_script_and_publish_the_model(tmp_path, mnist_dir):
    text = (ROOT / "docs" / "tutorial.md").read_text()
    script = "\n\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.S))
    (tmp_path / "volumes").mkdir()
    (tmp_path / "volumes" / "data").symlink_to(mnist_dir)
    (tmp_path / "my_model.py").write_text(script)
    proc = subprocess.run(
        [venv_python("convert"), "my_model.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    accuracy = float(re.search(r"test accuracy ([\d.]+)", proc.stdout).group(1))
    assert accuracy > 0.85, proc.stdout  # the tutorial says "about 90 %"
    index = json.loads((tmp_path / "volumes" / "exports" / "index.json").read_text())
    assert [e["model_json"] for e in index["exports"]] == ["digitnet/none/model.json"]
    assert index["exports"][0]["labels"] == list("0123456789")
    assert (tmp_path / "volumes" / "exports" / "samples.json").exists()


def test_the_counts_readme_states_are_the_codes_counts():
    """README's numbers come from the code: primitives lowered, corpus cases, zoo models, ES modules."""
    from bench import zoo
    from bench.corpus import cases
    from jax2tfjs.lowering import RULES

    readme = (ROOT / "README.md").read_text()
    assert f"lowering ({len(RULES)} primitives" in readme
    assert f"a {len(cases.CASES)}-case error corpus" in readme
    assert f"{len(zoo.entries())} small models" in readme
    words = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
    ]
    modules = len(list((ROOT / "web" / "js").glob("*.js")))
    assert f"{words[modules]} small ES modules in `web/js/`" in readme
    inspector = len(list((ROOT / "web" / "js" / "inspect").glob("*.js")))
    assert (
        f"the model inspector (`inspect.html`, `inspect.css`, {inspector} ES modules in `js/inspect/`)"
        in readme
    )


def test_readme_lists_every_exit_code_of_the_table_in_code():
    from jax2tfjs.compare import EXIT_CODES

    readme = (ROOT / "README.md").read_text()
    paragraph = readme[readme.index("Exit codes (one table in code") :].split("\n\n")[0]
    stated = {int(n) for n in re.findall(r"(?<![\w.])(\d+) ", paragraph.replace("\n", " ")) if int(n) < 256}
    assert stated == set(EXIT_CODES), paragraph
