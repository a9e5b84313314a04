// `promise`, or an Error saying `what` took too long (a backend that never starts, a hung load).
// Shared by the digit page (backend_choice.js) and the inspector (inspect/runner.js re-exports it).
export function withTimeout(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
