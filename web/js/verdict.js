// Is the answer worth trusting? A classifier always names some digit, even for a scribble: a
// horizontal line reads as 4 at 99.5 %, an X as 8. The model's own confidence cannot catch those,
// so two checks look at the ink itself (the 28×28 input, after MNIST-style preprocessing):
//  - shape: MNIST digits are taller than wide; none is more than twice as wide as tall (measured
//    on the demo's data: 0 of 10,000 digits), a horizontal line is ~10 times;
//  - corners: handwritten strokes curve, so almost no digit at least half as wide as tall has ink
//    in all four 2-pixel corners of its bounding box (measured: 4 of 10,000); an X always has.
// Plus the model's confidence: below MIN_CONFIDENCE it is hesitating between digits.
export const MIN_CONFIDENCE = 0.6;
const SIDE = 28;
const INK = 0.3;
const CORNER = 2;

function inkBox(pixels) {
  let top = SIDE, left = SIDE, bottom = -1, right = -1;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      if (pixels[y * SIDE + x] > INK) {
        top = Math.min(top, y); bottom = Math.max(bottom, y);
        left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  return bottom < 0 ? null : { top, left, bottom, right, width: right - left + 1, height: bottom - top + 1 };
}

function inkedCorners(pixels, box) {
  const inked = (y0, x0) => {
    for (let y = y0; y < y0 + CORNER; y++) {
      for (let x = x0; x < x0 + CORNER; x++) if (pixels[y * SIDE + x] > INK) return true;
    }
    return false;
  };
  const [t, l, b, r] = [box.top, box.left, box.bottom - CORNER + 1, box.right - CORNER + 1];
  return [inked(t, l), inked(t, r), inked(b, l), inked(b, r)].filter(Boolean).length;
}

// → {sure: true} or {sure: false, reason}: reason is a sentence for people.
export function judge(probabilities, pixels) {
  const box = pixels && inkBox(pixels);
  if (box && box.width > 2 * box.height) {
    return { sure: false, reason: 'it is much wider than any handwritten digit' };
  }
  if (box && box.width * 2 >= box.height && box.height > 2 * CORNER && inkedCorners(pixels, box) === 4) {
    return { sure: false, reason: 'its strokes reach all four corners, which no handwritten digit does' };
  }
  const top = Math.max(...probabilities);
  if (!(top >= MIN_CONFIDENCE)) {
    return { sure: false, reason: 'the model hesitates between several digits' };
  }
  return { sure: true };
}
