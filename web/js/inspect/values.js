// Turning what a user typed (or asked to draw at random) into an input's flat values and shape.
// An input's shape may hold unknown dims (null): a flat list fills them when only one is unknown
// (a leading unknown batch counts as 1 when there are more); nested JSON gives its own shape.

function nestedShape(value) {
  const shape = [];
  let level = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}

function flatten(value, shape, depth = 0, out = []) {
  if (depth === shape.length) {
    if (Array.isArray(value)) throw new Error('the nested lists are not rectangular (one is deeper than the first)');
    out.push(value);
    return out;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) throw new Error(`the nested lists are not rectangular (level ${depth + 1} should hold ${shape[depth]} items)`);
  for (const item of value) flatten(item, shape, depth + 1, out);
  return out;
}

function convert(raw, dtype) {
  return raw.map((v, i) => {
    if (dtype === 'bool') {
      if (v === true || v === 'true' || v === 1 || v === '1') return true;
      if (v === false || v === 'false' || v === 0 || v === '0') return false;
      throw new Error(`value ${i + 1} (${v}) is not true/false or 1/0`);
    }
    const n = typeof v === 'number' ? v : Number(v);
    if (typeof v === 'boolean' || (typeof v === 'string' && v.trim() === '') || Number.isNaN(n)) throw new Error(`value ${i + 1} (${JSON.stringify(v)}) is not a number`);
    if (dtype === 'int32' && !Number.isInteger(n)) throw new Error(`value ${i + 1} (${v}) is not a whole number, and this input is int32`);
    return n;
  });
}

// The concrete shape for `count` flat values of an input of `shape` (nulls unknown), or an Error.
export function resolveShape(shape, count) {
  if (!shape) return [count];
  const dims = [...shape];
  let unknown = dims.map((d, i) => (d === null ? i : -1)).filter((i) => i >= 0);
  if (unknown.length > 1 && unknown[0] === 0) { dims[0] = 1; unknown = unknown.slice(1); }
  if (unknown.length > 1) throw new Error(`this input has ${unknown.length} unknown dims besides the batch: give nested JSON lists`);
  const known = dims.reduce((a, d) => (d === null ? a : a * d), 1);
  if (unknown.length === 1) {
    if (known === 0 || count % known !== 0 || count === 0) throw new Error(`${count} values do not fill whole rows of ${known}`);
    dims[unknown[0]] = count / known;
  } else if (count !== known) {
    throw new Error(`this input takes exactly ${known} values, not ${count}`);
  }
  return dims;
}

// Text (JSON, nested or flat, or numbers separated by commas/spaces) → {shape, values}.
export function parseValues(text, spec) {
  const trimmed = text.trim();
  if (!trimmed) throw new Error('no values given');
  let raw;
  let shape;
  if (trimmed.startsWith('[')) {
    let parsed;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`not valid JSON (${err.message})`);
    }
    shape = nestedShape(parsed);
    raw = flatten(parsed, shape);
    const rank = spec.shape ? spec.shape.length : shape.length;
    if (shape.length === rank - 1 && spec.shape[0] === null) shape = [1, ...shape]; // batch left out
    if (spec.shape && shape.length !== spec.shape.length) throw new Error(`nested ${shape.length} deep, the input has rank ${spec.shape.length}`);
    spec.shape?.forEach((d, i) => {
      if (d !== null && d !== shape[i]) throw new Error(`dim ${i} is ${shape[i]}, the input wants ${d}`);
    });
  } else {
    raw = trimmed.split(/[\s,;]+/).filter(Boolean);
    shape = resolveShape(spec.shape, raw.length);
  }
  return { shape, values: convert(raw, spec.dtype) };
}

// A small seeded generator (mulberry32), so a "random" run can be repeated exactly.
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The concrete shape for random values: golden.json's for this input when it has one (its unknown
// dims agree across inputs), else 1 for the batch and `fill` for every other unknown dim.
export function randomShape(spec, goldenShape, fill = 4) {
  if (goldenShape && (!spec.shape || (goldenShape.length === spec.shape.length && spec.shape.every((d, i) => d === null || d === goldenShape[i])))) return [...goldenShape];
  return (spec.shape || [1]).map((d, i) => (d !== null ? d : i === 0 ? 1 : fill));
}

// Random values: within the range golden.json's values of this input span when it has them (a
// temperature stays positive, token ids in the vocabulary), else N(0, 1) floats, ints 0–9, fair bools.
export function randomValues(spec, shape, random, goldenValues) {
  const count = shape.reduce((a, b) => a * b, 1);
  const numbers = goldenValues && goldenValues.length ? goldenValues.map(Number) : null;
  const low = numbers ? numbers.reduce((a, b) => Math.min(a, b)) : null;
  const high = numbers ? numbers.reduce((a, b) => Math.max(a, b)) : null;
  return Array.from({ length: count }, () => {
    if (spec.dtype === 'bool') return random() < 0.5;
    if (spec.dtype === 'int32') return numbers ? low + Math.floor(random() * (high - low + 1)) : Math.floor(random() * 10);
    if (numbers) return Math.fround(low + random() * (high - low)); // float32, as fed
    const u = Math.max(random(), 1e-12);
    return Math.fround(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())); // Box–Muller
  });
}
