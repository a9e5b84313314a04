// An image input ([?, H, W, C] float32, C 1 or 3): a drawing pad (white ink on black, as MNIST's
// digits) that an uploaded picture can replace, and the pixels the model gets: the pad scaled to
// W×H, grey (C 1) or RGB (C 3), in the value range the user picks.
import { el } from './dom.js';

const PAD = 280;
export const RANGES = { '0,1': [0, 1], '-1,1': [-1, 1], '0,255': [0, 255] };

export function isImageInput(spec) {
  const s = spec.shape;
  return spec.dtype === 'float32' && Array.isArray(s) && s.length === 4 && (s[0] === null || s[0] === 1)
    && s[1] > 0 && s[2] > 0 && (s[3] === 1 || s[3] === 3);
}

export class ImageInput {
  constructor(spec, idPrefix) {
    [, this.height, this.width, this.channels] = spec.shape;
    this.pad = el('canvas', { width: PAD, height: Math.round((PAD * this.height) / this.width), className: 'pad', role: 'img', 'aria-label': `drawing pad for ${spec.name}: draw with a mouse, a pen or a finger, or upload an image` });
    this.preview = el('canvas', { width: this.width, height: this.height, className: 'preview', role: 'img', 'aria-label': `${spec.name} as the model gets it (${this.width}×${this.height})` });
    this.file = el('input', { type: 'file', accept: 'image/*', id: `${idPrefix}-file` });
    this.range = el('select', { id: `${idPrefix}-range` }, ...Object.keys(RANGES).map((r) => el('option', { value: r }, `[${r.replace(',', ', ')}]`)));
    const clear = el('button', { type: 'button' }, 'Clear');
    this.ctx = this.pad.getContext('2d', { willReadFrequently: true });
    this.node = el('div', { className: 'image-input' },
      this.pad,
      el('div', { className: 'image-controls' },
        el('label', { htmlFor: this.file.id }, 'Upload an image'), this.file,
        el('label', { htmlFor: this.range.id }, 'Pixel values in'), this.range,
        clear,
        el('span', { className: 'small' }, `model input (${this.width}×${this.height}, ${this.channels === 1 ? 'grey' : 'RGB'}):`), this.preview));
    clear.addEventListener('click', () => this.clear());
    this.file.addEventListener('change', () => this.upload());
    this.setupDrawing();
    this.clear();
  }

  clear() {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.pad.width, this.pad.height);
    this.updatePreview();
  }

  setupDrawing() {
    let last = null;
    const point = (event) => {
      const rect = this.pad.getBoundingClientRect();
      return { x: (event.clientX - rect.left) * (this.pad.width / rect.width), y: (event.clientY - rect.top) * (this.pad.height / rect.height) };
    };
    this.pad.addEventListener('pointerdown', (event) => { last = point(event); this.pad.setPointerCapture(event.pointerId); });
    this.pad.addEventListener('pointermove', (event) => {
      if (!last) return;
      const next = point(event);
      Object.assign(this.ctx, { lineCap: 'round', lineJoin: 'round', lineWidth: this.pad.width / 14, strokeStyle: '#fff' });
      this.ctx.beginPath();
      this.ctx.moveTo(last.x, last.y);
      this.ctx.lineTo(next.x, next.y);
      this.ctx.stroke();
      last = next;
    });
    const stop = () => { if (last) { last = null; this.updatePreview(); } };
    this.pad.addEventListener('pointerup', stop);
    this.pad.addEventListener('pointercancel', stop);
  }

  // The picture fitted into the pad on black (aspect kept), pixels kept sharp when enlarged so that
  // a picture of exactly the model's size reaches the model unchanged.
  async upload() {
    const [file] = this.file.files;
    if (!file) return;
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(this.pad.width / bitmap.width, this.pad.height / bitmap.height);
    const w = bitmap.width * scale;
    const h = bitmap.height * scale;
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.pad.width, this.pad.height);
    this.ctx.imageSmoothingEnabled = scale < 1;
    this.ctx.drawImage(bitmap, (this.pad.width - w) / 2, (this.pad.height - h) / 2, w, h);
    this.ctx.imageSmoothingEnabled = true;
    bitmap.close();
    this.updatePreview();
    this.node.dispatchEvent(new CustomEvent('image-changed', { bubbles: true }));
  }

  updatePreview() {
    const small = this.preview.getContext('2d', { willReadFrequently: true });
    small.imageSmoothingQuality = 'high';
    small.drawImage(this.pad, 0, 0, this.width, this.height);
  }

  // {shape: [1, H, W, C], values} in the chosen range.
  pixels() {
    this.updatePreview();
    const rgba = this.preview.getContext('2d', { willReadFrequently: true }).getImageData(0, 0, this.width, this.height).data;
    const [low, high] = RANGES[this.range.value];
    const values = new Array(this.width * this.height * this.channels);
    for (let p = 0; p < this.width * this.height; p++) {
      const [r, g, b] = [rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]];
      const channels = this.channels === 1 ? [0.299 * r + 0.587 * g + 0.114 * b] : [r, g, b];
      channels.forEach((v, c) => { values[p * this.channels + c] = Math.fround(low + ((high - low) * v) / 255); });
    }
    return { shape: [1, this.height, this.width, this.channels], values };
  }
}
