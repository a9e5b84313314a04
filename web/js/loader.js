// Downloads the page can watch, stop and give up on: one Download is one attempt at loading an
// export (model.json, its weight shards, golden.json). Its `fetch` is a drop-in for window.fetch
// (TF.js's `fetchFunc`) that reads each body itself, so it can count bytes as they arrive and
// notice a server that stops sending. Cancelling or stalling aborts every request of the attempt.

// A shard or JSON file that sends no byte for this long is given up on. Slow links still send
// bytes steadily, so this only fires on a hung request, never on a merely slow one.
export const STALL_MS = 10_000;

export class DownloadError extends Error {
  // kind: 'http' (the server answered an error status), 'stalled', 'cancelled', 'network',
  // 'damaged' (a JSON file that does not parse)
  constructor(kind, url, message, status = null) {
    super(message);
    this.name = 'DownloadError';
    this.kind = kind;
    this.url = url;
    this.status = status;
  }
}

export class Download {
  constructor({ onBytes = () => {}, stallMs = STALL_MS } = {}) {
    this.controller = new AbortController();
    this.onBytes = onBytes;
    this.stallMs = stallMs;
    this.bytes = 0;
    this.failure = null; // the first reason this attempt stopped
    this.early = new Map(); // url → Promise of a body fetched ahead (prefetch)
    this.fetch = (url, init = {}) => this.get(String(url), init);
  }

  // Start fetching an export's files (model.json, its shards, golden.json) now, so they download
  // while TF.js starts its backends; TF.js then gets them through `fetch` from here.
  prefetchExport(modelUrl, extraUrls = []) {
    const base = modelUrl.slice(0, modelUrl.lastIndexOf('/') + 1);
    const early = (url) => {
      if (!this.early.has(url)) {
        const body = this.read(url);
        body.catch(() => {}); // failures surface when the file is asked for, not here
        this.early.set(url, body);
      }
      return this.early.get(url);
    };
    extraUrls.forEach(early);
    early(modelUrl).then(async ({ blob }) => {
      const manifest = JSON.parse(await blob.text()).weightsManifest || [];
      manifest.forEach((group) => group.paths.forEach((path) => early(base + path)));
    }).catch(() => {});
  }

  cancel(reason = 'cancelled by you') {
    this.stop(new DownloadError('cancelled', '', reason));
  }

  stop(error) {
    if (!this.failure) this.failure = error;
    this.controller.abort(error);
  }

  get cancelled() {
    return this.failure?.kind === 'cancelled';
  }

  async get(url, init) {
    const body = this.early.get(url) || this.read(url, init);
    const { blob, status, headers } = await body;
    return new Response(blob, { status, headers });
  }

  // → {blob, status, headers} of one file, counting its bytes as they arrive.
  async read(url, init = {}) {
    if (this.failure) throw this.failure;
    let timer = null;
    const armStallTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.stop(new DownloadError(
        'stalled', url, `no data from ${url} for ${this.stallMs / 1000} s`)), this.stallMs);
    };
    armStallTimer();
    try {
      const response = await fetch(url, { ...init, cache: 'no-cache', signal: this.controller.signal });
      // TF.js reads a weight shard without looking at the status: an error page would reach it as
      // weights ("byte length of Float32Array should be a multiple of 4"). Fail here, by name.
      if (!response.ok) throw new DownloadError('http', url, `${url}: HTTP ${response.status}`, response.status);
      const chunks = [];
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        armStallTimer();
        chunks.push(value);
        this.bytes += value.byteLength;
        this.onBytes(this.bytes);
      }
      return { blob: new Blob(chunks), status: response.status, headers: response.headers };
    } catch (err) {
      if (this.failure) throw this.failure;
      if (err instanceof DownloadError) throw err;
      throw new DownloadError('network', url, `${url}: ${err.message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async json(url) {
    const response = await this.get(url, {});
    try {
      return await response.json();
    } catch (err) {
      throw new DownloadError('damaged', url, `${url} is not valid JSON: ${err.message}`);
    }
  }
}
