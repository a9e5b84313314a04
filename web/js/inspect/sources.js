// Where the inspector finds exports: the demo's index (/models/index.json, written by the jobs) and
// the zoo's catalog (/zoo/index.json, make zoo), both {"exports": [...]} with "model_json" relative
// to their folder, plus any served model.json named by ?model=. A missing index is not an error.
const INDEXES = [
  { root: '/models/', label: 'Demo exports (/models/)' },
  { root: '/zoo/', label: 'Model zoo (/zoo/)' },
];

async function readIndex(root) {
  try {
    const response = await fetch(`${root}index.json`, { cache: 'no-cache' });
    if (!response.ok) return { exports: [], problem: response.status === 404 ? null : `HTTP ${response.status}` };
    const index = await response.json();
    return { exports: Array.isArray(index.exports) ? index.exports : [] };
  } catch (err) {
    return { exports: [], problem: err.message };
  }
}

// The demo's entries name a model and a quantization; the catalog's name a folder.
function labelOf(entry) {
  if (entry.name) return entry.name;
  return [entry.model, entry.quantization].filter(Boolean).join(' · ') || entry.model_json;
}

// [{label, url (absolute), entry, group}], the ?model= one first. Problems: indexes that exist but
// could not be read (a damaged file), for the page to mention.
export async function listExports(search = window.location.search) {
  const found = [];
  const problems = [];
  const wanted = new URLSearchParams(search).get('model');
  const results = await Promise.all(INDEXES.map((index) => readIndex(index.root)));
  INDEXES.forEach((index, i) => {
    if (results[i].problem) problems.push(`${index.root}index.json: ${results[i].problem}`);
    for (const entry of results[i].exports) {
      if (typeof entry.model_json !== 'string') continue;
      found.push({ label: labelOf(entry), url: new URL(entry.model_json, new URL(index.root, window.location.href)).href, entry, group: index.label });
    }
  });
  let selected = 0;
  if (wanted) {
    const url = new URL(wanted, window.location.href).href;
    selected = found.findIndex((item) => item.url === url);
    if (selected < 0) {
      found.unshift({ label: wanted, url, entry: null, group: 'From the address (?model=)' });
      selected = 0;
    }
  }
  return { exports: found, selected, problems };
}

// The page's own address for an export, so a reload or a shared link opens the same one.
export function addressFor(url) {
  const path = new URL(url).pathname;
  return `${window.location.pathname}?model=${encodeURIComponent(path)}`;
}
