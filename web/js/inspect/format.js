// How the inspector writes numbers, shapes and sizes.
export function shapeText(shape) {
  if (!shape) return 'unknown';
  return `[${shape.map((d) => (d === null || d === undefined || d < 0 ? '?' : d)).join(', ')}]`;
}

export function bytesText(bytes) {
  if (bytes === null || bytes === undefined) return 'unknown';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

export function numberText(value) {
  if (typeof value === 'boolean') return String(value);
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5) ? value.toExponential(3) : value.toPrecision(4);
}

export function msText(ms) {
  return ms === null || ms === undefined ? '–' : `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
}
