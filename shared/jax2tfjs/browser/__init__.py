"""Run exports in headless Chromium on TF.js's browser backends (webgl, wasm, cpu; webgpu where offered).

`session.ChromiumSession` is one browser for a whole check (verify --browser, the zoo): a localhost
static server (serve) hands the page (runner.html, browser_runner.js) the Node runtime's own TF.js
bundles, the exports and their inputs; Chromium is launched by chromium.launch.
"""
