"""The digit page against axe-core (WCAG 2.0/2.1 A and AA rules), in Debian's Chromium at desktop
and phone size, in the states users see: ready, and after a prediction. No violation of impact
serious or critical may remain. The inspector's own axe check, after its self-check, is in
test_web_inspector.py.

axe-core comes from npm (web/package.json's devDependencies, `npm ci` by `make setup`) and is
injected from disk, never served: the context bypasses the CSP for that one script."""

from __future__ import annotations

import json

import pytest
from web_harness import browser, wait_state

from conftest import ROOT

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def serious_violations(page) -> list[dict]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run make setup (npm ci in web/)")
    page.add_script_tag(path=str(AXE))
    script = (
        f"axe.run(document, {{runOnly: {{type: 'tag', values: {json.dumps(RULES)}}}}}).then((r) => JSON.stringify("
        "r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map((n) => n.target.join(' '))}))))"
    )
    found = json.loads(page.evaluate(script))
    return [v for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("size", SIZES)
def test_the_digit_page_has_no_serious_accessibility_violations(site, size):
    with browser(viewport=SIZES[size], has_touch=size == "phone", bypass_csp=True) as page:
        page.goto(site["url"] + "/")
        wait_state(page, "ready")
        assert serious_violations(page) == []
        page.click("#sample")
        page.wait_for_selector("body[data-sample='0']", state="attached")
        assert serious_violations(page) == []
