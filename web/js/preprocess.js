// MNIST-style preprocessing of a drawing: grayscale, crop to the ink's bounding box, scale the
// longer side to 20 px, then centre by mass in a 28×28 field (as the MNIST digits were made).
const SIDE = 28;
const BOX = 20;

function inkOf(ctx, width, height) {
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = rgba[i * 4] / 255; // white ink on black: red channel
  return ink;
}

function boundingBox(ink, width, height) {
  let top = height, left = width, bottom = -1, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > 0.1) {
        top = Math.min(top, y); bottom = Math.max(bottom, y);
        left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  return bottom < 0 ? null : { left, top, width: right - left + 1, height: bottom - top + 1 };
}

// Returns Float32Array(784) in [0, 1], or null when nothing is drawn.
export function preprocess(canvas) {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const box = boundingBox(inkOf(ctx, canvas.width, canvas.height), canvas.width, canvas.height);
  if (!box) return null;
  const scale = BOX / Math.max(box.width, box.height);
  const w = Math.max(1, Math.round(box.width * scale));
  const h = Math.max(1, Math.round(box.height * scale));
  const small = new OffscreenCanvas(w, h);
  const sctx = small.getContext('2d', { willReadFrequently: true });
  sctx.imageSmoothingQuality = 'high';
  sctx.drawImage(canvas, box.left, box.top, box.width, box.height, 0, 0, w, h);
  const ink = inkOf(sctx, w, h);
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = ink[y * w + x];
      mass += v; mx += v * x; my += v * y;
    }
  }
  const offX = Math.round(SIDE / 2 - (mass ? mx / mass : w / 2) - 0.5);
  const offY = Math.round(SIDE / 2 - (mass ? my / mass : h / 2) - 0.5);
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const tx = x + offX, ty = y + offY;
      if (tx >= 0 && tx < SIDE && ty >= 0 && ty < SIDE) out[ty * SIDE + tx] = ink[y * w + x];
    }
  }
  return out;
}

// Paint 784 values in [0, 1] onto a canvas of any size (nearest neighbour).
export function paint(canvas, pixels) {
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = Math.round(pixels[i] * 255);
    image.data.set([v, v, v, 255], i * 4);
  }
  if (canvas.width === SIDE) { ctx.putImageData(image, 0, 0); return; }
  const tmp = new OffscreenCanvas(SIDE, SIDE);
  tmp.getContext('2d').putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}
