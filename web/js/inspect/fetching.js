// What the inspector downloads itself (TF.js downloads the weights): model.json, the shards' sizes
// and golden.json, each with an error that says which file and what went wrong.
import { filesOf } from './describe.js';

export async function fetchModelJson(url) {
  const response = await fetch(url, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  const text = await response.text();
  let modelJson;
  try {
    modelJson = JSON.parse(text);
  } catch (err) {
    throw new Error(`${url} is not valid JSON (${err.message})`);
  }
  if (!modelJson || typeof modelJson !== 'object' || !modelJson.modelTopology) {
    throw new Error(`${url} has no modelTopology: not a TF.js graph model`);
  }
  return { modelJson, text };
}

// Each shard's size as the server states it (a HEAD request: nothing downloaded twice).
async function shardSizes(url, modelJson) {
  const paths = (modelJson.weightsManifest || []).flatMap((group) => group.paths || []);
  const sizes = await Promise.all(paths.map(async (path) => {
    try {
      const response = await fetch(new URL(path, url), { method: 'HEAD', cache: 'no-cache' });
      const length = response.ok ? response.headers.get('Content-Length') : null;
      return length === null ? null : Number(length);
    } catch {
      return null;
    }
  }));
  return Object.fromEntries(paths.map((p, i) => [p, sizes[i]]).filter(([, size]) => size !== null));
}

export async function describeFiles(url, text, modelJson) {
  return filesOf(new TextEncoder().encode(text).length, modelJson, await shardSizes(url, modelJson));
}

// {golden, problem}: golden.json beside model.json, null when there is none (not an error: not
// every TF.js export has one) or when it is damaged (the problem says how).
export async function fetchGolden(url) {
  try {
    const response = await fetch(new URL('golden.json', url), { cache: 'no-cache' });
    if (response.status === 404) return { golden: null, problem: null };
    if (!response.ok) return { golden: null, problem: `golden.json answered HTTP ${response.status}` };
    return { golden: await response.json(), problem: null };
  } catch (err) {
    return { golden: null, problem: `golden.json could not be read: ${err.message}` };
  }
}
