"""The digit page as a product, in Debian's Chromium through Playwright against real nginx: keyboard
focus, stale results after a failed switch, phone/tablet/desktop layouts, damaged weights, hung
downloads (cancel, time out, retry), "not sure" on scribbles, right/wrong test digits, contrast, the
live region, the default export and the measured backend choice. Exports come from the session
fixture `site` (tests/conftest.py); tests that need a damaged or relabelled export copy one."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
from web_harness import OUTPUT, Server, browser, wait_state

from jax2tfjs.export import publish

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 3,
}
SHARD = "group1-shard1of1.bin"


def wait_export(page, model_json: str, state: str = "ready", timeout_ms: int = 60_000) -> None:
    """Wait until the page has finished with this export (index.json's model_json) in `state`."""
    page.wait_for_selector(
        f"body[data-state='{state}'][data-export='{model_json}']", state="attached", timeout=timeout_ms
    )


def index_entries(exports) -> list[dict]:
    return json.loads((exports / "index.json").read_text())["exports"]


def copy_exports(site, tmp_path, *names: str) -> tuple:
    """Copies of some of the site's exports ("flax_cnn/none", ...), their index.json and samples.json."""
    exports = tmp_path / "exports"
    for name in names:
        shutil.copytree(site["exports"] / name, exports / name)
    entries = {f"{e['model']}/{e['quantization']}": e for e in index_entries(site["exports"])}
    (exports / "index.json").write_text(json.dumps({"exports": [entries[n] for n in names]}))
    shutil.copy(site["exports"] / "samples.json", exports / "samples.json")
    return exports, [entries[n] for n in names]


def only_expected_problems(page) -> list[str]:
    # A 404 the page asked for on purpose is logged by the browser; nothing else may go wrong.
    return [p for p in page.problems if not p.startswith("Failed to load resource")]


def draw(page, points) -> None:
    box = page.locator("#pad").bounding_box()
    scale = box["width"] / 280
    page.mouse.move(box["x"] + points[0][0] * scale, box["y"] + points[0][1] * scale)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=4)
    page.mouse.up()


def line(start, end, steps=12):
    return [
        (start[0] + (end[0] - start[0]) * i / steps, start[1] + (end[1] - start[1]) * i / steps)
        for i in range(steps + 1)
    ]


def relative_luminance(rgb: str) -> float:
    channels = [int(v) / 255 for v in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_samples_json_is_balanced_over_the_classes(tmp_path):
    """The split's first 20 digits may lack a class (the demo's had no 8): write_samples takes the
    first two of each label instead, in rounds (0..9, 0..9), the same every time."""
    labels = np.array([1, 1, 2, 0, 3, 3, 4, 5, 6, 7, 9, 9, 0, 1, 2, 2, 4, 5, 6, 7, 8, 3, 9, 8, 0])
    images = np.arange(len(labels) * 4, dtype=np.uint8).reshape(len(labels), 2, 2, 1)
    publish.write_samples(tmp_path, images, labels)
    samples = json.loads((tmp_path / "samples.json").read_text())
    assert samples["labels"] == [*range(10), *range(10)]
    positions = [3, 0, 2, 4, 6, 7, 8, 9, 20, 10, 12, 1, 14, 5, 16, 17, 18, 19, 23, 11]
    assert samples["images"] == [images[i].reshape(-1).tolist() for i in positions]
    publish.write_samples(tmp_path / "again", images, labels)
    assert json.loads((tmp_path / "again" / "samples.json").read_text()) == samples
    publish.write_samples(tmp_path / "few", images, labels, count=3)
    assert json.loads((tmp_path / "few" / "samples.json").read_text())["labels"] == [0, 1, 2]


def test_the_model_picker_keeps_keyboard_focus_while_a_model_loads(site):
    entries = index_entries(site["exports"])
    with browser() as page:
        page.goto(site["url"] + "/")
        wait_export(page, entries[0]["model_json"])
        page.focus("#models")
        page.keyboard.press("ArrowDown")
        assert page.locator("#models:focus").count() == 1  # not dropped to <body> while loading
        wait_export(page, entries[1]["model_json"])
        assert page.locator("#models:focus").count() == 1
        page.keyboard.press("ArrowDown")  # the next key still works the picker
        wait_export(page, entries[2]["model_json"])
        assert page.input_value("#models") == "2"
        assert page.problems == []


def test_a_failed_switch_clears_the_previous_models_results(site, tmp_path):
    exports, entries = copy_exports(site, tmp_path, "flax_mlp/none", "flax_mlp/float16")
    (exports / "flax_mlp" / "float16" / SHARD).unlink()  # a 404 for the weights
    with Server(exports) as url, browser() as page:
        page.goto(url + "/")
        wait_export(page, entries[0]["model_json"])
        page.click("#sample")
        page.wait_for_selector("#top[data-label]", state="attached")
        assert (
            page.inner_text("#time") != "–" and page.get_attribute("#selfcheck", "data-verdict") == "passed"
        )
        page.select_option("#models", "1")
        wait_export(page, entries[1]["model_json"], "broken")
        # Nothing of the previous model stays under the error.
        assert page.inner_text("#top") == "–" and page.get_attribute("#top", "data-label") is None
        assert page.inner_text("#time") == "–" and page.inner_text("#selfcheck") == "–"
        assert set(page.locator(".bar-value").all_inner_texts()) == {"–"}
        assert page.is_disabled("#sample")
        status = page.inner_text("#status")
        assert "incomplete: the server has no group1-shard1of1.bin" in status and "make convert" in status
        assert "Float32Array" not in status and "NaN" not in status
        assert "HTTP 404" in page.text_content("#error-raw")  # the raw error, one click away
        assert page.is_visible("#retry")
        assert only_expected_problems(page) == []


def check_fits(page, name: str) -> None:
    assert no_horizontal_scroll(page), f"{name}: the page scrolls sideways"


def test_the_phone_layout_fits_and_shows_the_answer_on_the_first_screen(site):
    """390×844 with touch (the answer and the pad on the first screen), then the same phone at
    320 px (reflow) and held sideways: never a sideways scroll."""
    entries = index_entries(site["exports"])
    with browser(**PHONE) as page:
        page.goto(site["url"] + "/")
        wait_export(page, entries[0]["model_json"])
        check_fits(page, "390x844")
        for selector in ("#top", "#bars", "#pad"):
            box = page.locator(selector).bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 844, (selector, box)
        page.tap("#strip .thumb[data-index='7']")
        page.wait_for_selector("body[data-sample='7'] #top[data-label]", state="attached")
        check_fits(page, "390x844 with a prediction")
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(OUTPUT / "digit-phone.png"))
        for width, height in ((320, 640), (844, 390)):
            page.set_viewport_size({"width": width, "height": height})
            check_fits(page, f"{width}x{height}")
        page.screenshot(path=str(OUTPUT / "digit-phone-landscape.png"))
        assert page.problems == []


def test_the_desktop_and_tablet_layouts_fit(site):
    entries = index_entries(site["exports"])
    with browser(viewport={"width": 1280, "height": 800}) as page:
        page.goto(site["url"] + "/")
        wait_export(page, entries[0]["model_json"])
        page.click("#strip .thumb[data-index='7']")
        page.wait_for_selector("body[data-sample='7'] #top[data-label]", state="attached")
        check_fits(page, "1280x800")
        # Desktop puts pad, answer and model side by side: all on the first screen.
        for selector in ("#pad", "#top", "#models"):
            box = page.locator(selector).bounding_box()
            assert box["y"] + box["height"] <= 800, (selector, box)
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "digit-desktop.png"))
        page.set_viewport_size({"width": 768, "height": 1024})
        check_fits(page, "768x1024")
        page.screenshot(path=str(OUTPUT / "digit-tablet.png"))
        assert page.problems == []


def _corrupt_shard(shard):
    raw = bytearray(shard.read_bytes())
    for i in range(1000, len(raw), 997):  # flip bytes all through the weights: the file still loads
        raw[i] ^= 0x5A
    shard.write_bytes(bytes(raw))


def test_damaged_weights_fail_the_self_check_instead_of_predicting(site, tmp_path):
    exports, entries = copy_exports(site, tmp_path, "flax_cnn/none", "flax_cnn/float16")
    _corrupt_shard(exports / "flax_cnn" / "none" / SHARD)
    with Server(exports) as url, browser() as page:
        page.goto(url + "/")
        wait_export(page, entries[0]["model_json"], "failed-check")
        assert page.get_attribute("#selfcheck", "data-verdict") == "failed"
        status = page.inner_text("#status")
        assert "failed its self-check" in status and "Ready" not in status and "quantized" not in status
        assert "make convert MODEL=flax_cnn QUANT=none" in status
        assert page.is_disabled("#sample")
        thumb = "#strip .thumb[data-index='3']"
        assert page.get_attribute(thumb, "aria-disabled") == "true"
        page.click(thumb, force=True)  # no garbage answers from it, even when pressed
        assert page.get_attribute("#top", "data-label") is None
        page.select_option("#models", "1")  # the undamaged export still works
        wait_export(page, entries[1]["model_json"])
        assert page.get_attribute("#selfcheck", "data-verdict") == "passed"
        assert page.problems == []


def test_a_hung_download_can_be_cancelled_times_out_and_retries(site):
    entries = index_entries(site["exports"])
    first = entries[0]["model_json"]
    shard = "**/models/" + first.replace("model.json", SHARD)
    held = []
    with browser() as page:
        page.route(shard, lambda route: held.append(route))  # never answered
        page.goto(site["url"] + "/")
        page.wait_for_selector("#cancel", state="visible")
        assert "Downloading" in page.inner_text("#progress-text") and page.is_visible("#progress")
        page.click("#cancel")
        wait_export(page, first, "cancelled")
        assert "cancelled" in page.inner_text("#status") and page.is_hidden("#cancel")
        page.click("#retry")  # still hung: the stall timer gives up by itself
        wait_export(page, first, "broken", timeout_ms=40_000)
        assert "stopped sending group1-shard1of1.bin" in page.inner_text("#status")
        assert "no data from" in page.text_content("#error-raw")
        assert held, "the shard request never reached the route"
        page.unroute(shard)
        page.click("#retry")
        wait_export(page, first)
        assert only_expected_problems(page) == []


def test_scribbles_are_not_sure_and_digits_are(site):
    with browser() as page:
        page.goto(site["url"] + "/")
        wait_state(page, "ready")
        draw(page, line((40, 140), (240, 145)))  # a horizontal line reads as 4 at 99.5 %
        page.wait_for_selector(
            "body[data-verdict='not-sure'] #verdict:has-text('wider than')", state="attached"
        )
        assert "Not sure" in page.inner_text("#verdict") and page.inner_text("#top") == "?"
        page.click("#clear")
        draw(page, line((60, 60), (220, 220)))
        draw(page, line((220, 60), (60, 220)))  # an X reads as 8
        page.wait_for_selector(
            "body[data-verdict='not-sure'] #verdict:has-text('four corners')", state="attached"
        )
        page.click("#clear")
        draw(page, line((140, 40), (140, 250)))  # a 1 is a digit
        page.wait_for_selector("body[data-verdict='sure']", state="attached")
        assert page.inner_text("#top") == "1" and "Looks like a 1" in page.inner_text("#verdict")
        assert page.problems == []


def test_a_wrong_test_digit_is_marked_wrong(site, tmp_path):
    exports, entries = copy_exports(site, tmp_path, "flax_cnn/none")
    samples = json.loads((exports / "samples.json").read_text())
    says = site["expected"]["flax_cnn"][0]
    samples["labels"][0] = (says + 1) % 10  # a label the model cannot agree with
    (exports / "samples.json").write_text(json.dumps(samples))
    with Server(exports) as url, browser() as page:
        page.goto(url + "/")
        wait_export(page, entries[0]["model_json"])
        thumb = page.locator("#strip .thumb[data-index='0']")
        page.wait_for_selector("#strip .thumb[data-index='0'][data-verdict='wrong']", state="attached")
        assert "wrong" in thumb.get_attribute("aria-label")
        thumb.click()
        page.wait_for_selector("#truth[data-verdict='wrong']")
        assert f"it says {says}" in page.inner_text("#truth")
        assert page.problems == []


def test_results_are_announced_contrast_holds_and_samples_keep_going(site):
    with browser(bypass_csp=True) as page:  # bypass only to read computed styles
        page.goto(site["url"] + "/")
        wait_state(page, "ready")
        assert page.get_attribute("#verdict", "aria-live") == "polite"
        before = page.inner_text("#verdict")
        for k in range(3):
            page.click("#sample")
            page.wait_for_selector(f"body[data-sample='{k}'] #top[data-label]", state="attached")
        announced = page.inner_text("#verdict")
        assert announced != before and re.search(r"(Looks like a \d|Not sure)", announced)
        assert "Test digit 3" in announced
        page.click("#clear")
        page.click("#sample")  # keeps going after a clear, no restart at the first digit
        page.wait_for_selector("body[data-sample='3']", state="attached")
        track = page.eval_on_selector(".bar.best", "e => getComputedStyle(e).backgroundColor")
        fill = page.eval_on_selector(".bar.best .fill", "e => getComputedStyle(e).backgroundColor")
        assert contrast(track, fill) >= 3, (track, fill)
        other = page.eval_on_selector(".bar:not(.best) .fill", "e => getComputedStyle(e).backgroundColor")
        assert contrast(track, other) >= 3, (track, other)
        assert page.locator("#bars [role='meter'][aria-label='Digit 7']").count() == 1
        assert page.get_attribute("#pad", "role") == "img"
        assert page.problems == []


def test_the_default_export_is_the_smallest_within_a_tenth_of_a_point(site, tmp_path):
    exports = tmp_path / "exports"
    shutil.copytree(site["exports"], exports)
    entries = index_entries(exports)

    def verified(accuracy, passed=True):
        return {"passed": passed, "tfjs_accuracy": accuracy, "max_abs_diff": 1e-6, "failures": []}

    accuracy = {"jax_cnn/none": 0.99, "jax_cnn/float16": 0.9895}
    for entry in entries:
        name = f"{entry['model']}/{entry['quantization']}"
        entry["verified"] = verified(accuracy.get(name, 0.95))
    # A failed verify does not count, however accurate.
    next(e for e in entries if e["model"] == "flax_mlp" and e["quantization"] == "none")["verified"] = (
        verified(0.999, passed=False)
    )
    (exports / "index.json").write_text(json.dumps({"exports": entries}))
    want = next(i for i, e in enumerate(entries) if (e["model"], e["quantization"]) == ("jax_cnn", "float16"))
    best = next(e for e in entries if (e["model"], e["quantization"]) == ("jax_cnn", "none"))
    assert entries[want]["total_bytes"] < best["total_bytes"] and want != 0
    with Server(exports) as url, browser() as page:
        page.goto(url + "/")
        wait_export(page, entries[want]["model_json"])
        assert page.input_value("#models") == str(want)
        assert "JAX CNN · half precision · " in page.inner_text("#models option:checked")
        assert page.problems == []


def test_the_backend_is_measured_shown_with_a_reason_and_can_be_overridden(site):
    entries = index_entries(site["exports"])
    with browser() as page:
        page.goto(site["url"] + "/")
        wait_export(page, entries[0]["model_json"])
        chosen = page.inner_text("#backend")
        reason = page.inner_text("#backend-reason")
        assert re.search(rf"{chosen}: [\d.]+ ms per digit", reason) and "fastest measured here" in reason
        measured = dict(re.findall(r"(webgl|wasm|cpu):? ([\d.]+) ms", reason))
        assert chosen in measured and len(measured) >= 2  # cpu and wasm start everywhere
        assert float(measured[chosen]) <= min(float(v) for v in measured.values())
        page.click("#tech summary")
        assert "Cross-origin isolated" in page.inner_text("#tech") and "yes" in page.inner_text("#tech")
        other = next(b for b in ("cpu", "wasm", "webgl") if b != chosen and b in measured)
        page.select_option("#backend-picker", other)
        page.wait_for_selector(f"body[data-backend='{other}'][data-state='ready']", state="attached")
        assert "your choice" in page.inner_text("#backend-reason")
        page.click("#sample")
        page.wait_for_selector("body[data-sample='0'] #top[data-label]", state="attached")
        assert page.problems == []
