// Raw TF.js and network errors → what happened and what to do, in plain words. The raw text is
// kept for the page's "Technical detail" box, never shown as the message itself.

function fileName(url) {
  return String(url || '').split('/').pop() || 'a file';
}

// err: any thrown value; exportArgs: e.g. "MODEL=flax_cnn QUANT=none" for the re-convert command.
export function explain(err, exportArgs = '') {
  const raw = err && err.message ? `${err.name || 'Error'}: ${err.message}` : String(err);
  const reconvert = exportArgs ? `re-run \`make convert ${exportArgs}\`` : 're-run `make convert`';
  const kind = err && err.kind;
  if (kind === 'cancelled') {
    return { cause: 'Loading was cancelled.', fix: 'Press “Try again”, or pick another model.', raw };
  }
  if (kind === 'stalled') {
    return {
      cause: `The server stopped sending ${fileName(err.url)}.`,
      fix: 'Check your connection and press “Try again”, or pick another model.',
      raw,
    };
  }
  if (kind === 'network') {
    return {
      cause: `The server could not be reached for ${fileName(err.url)}.`,
      fix: 'Check that the demo server still runs (`make web`) and press “Try again”.',
      raw,
    };
  }
  if (kind === 'http' && err.status === 404) {
    return {
      cause: `This export is incomplete: the server has no ${fileName(err.url)}.`,
      fix: `Pick another model, or ${reconvert}.`,
      raw,
    };
  }
  if (kind === 'http') {
    return {
      cause: `The server refused ${fileName(err.url)} (HTTP ${err.status}).`,
      fix: 'Press “Try again” in a moment, or pick another model.',
      raw,
    };
  }
  if (kind === 'damaged' || /JSON|Unexpected token/i.test(raw)) {
    return { cause: `A file of this export is damaged (${fileName(err.url)} is not valid JSON).`, fix: `Pick another model, or ${reconvert}.`, raw };
  }
  if (/byte length|multiple of|Based on the provided shape|weight/i.test(raw)) {
    return { cause: 'The weights of this export do not match its model.json (a shard is cut short or from another export).', fix: `Pick another model, or ${reconvert}.`, raw };
  }
  if (/backend/i.test(raw)) {
    return { cause: 'TensorFlow.js could not start in this browser.', fix: 'Try another browser, or update this one.', raw };
  }
  return {
    cause: 'TensorFlow.js could not read this export.',
    fix: `Pick another model, or ${reconvert}.`,
    raw,
  };
}
