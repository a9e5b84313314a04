// The strip of test digits (samples.json): one button per digit, marked right or wrong for the
// model in use. It is also the way to try the model without a pointer (keyboard, switch access).
import { paint } from './preprocess.js';

export function samplePixels(samples, index) {
  return Float32Array.from(samples.images[index], (v) => v / 255);
}

export function buildStrip(container, samples, onPick) {
  const buttons = samples.labels.map((label, index) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'thumb';
    button.dataset.index = String(index);
    const canvas = document.createElement('canvas');
    canvas.width = 28;
    canvas.height = 28;
    canvas.setAttribute('aria-hidden', 'true');
    paint(canvas, samplePixels(samples, index));
    const mark = document.createElement('span');
    mark.className = 'mark';
    mark.setAttribute('aria-hidden', 'true');
    button.append(canvas, mark);
    button.addEventListener('click', () => onPick(index));
    return button;
  });
  container.replaceChildren(...buttons);
  markStrip(container, samples, null);
}

// predicted: the model's label per sample, or null while no model can answer.
export function markStrip(container, samples, predicted) {
  container.querySelectorAll('.thumb').forEach((button, index) => {
    const label = samples.labels[index];
    const mark = button.querySelector('.mark');
    if (!predicted) {
      delete button.dataset.verdict;
      mark.textContent = '';
      button.setAttribute('aria-label', `Test digit ${index + 1}, labelled ${label}`);
      return;
    }
    const right = String(predicted[index]) === String(label);
    button.dataset.verdict = right ? 'right' : 'wrong';
    mark.textContent = right ? '✓' : '✗';
    button.setAttribute('aria-label', `Test digit ${index + 1}, labelled ${label}: the model says ${predicted[index]}, ${right ? 'right' : 'wrong'}`);
  });
}

export function markCurrent(container, index) {
  container.querySelectorAll('.thumb').forEach((button, i) => {
    if (i === index) button.setAttribute('aria-current', 'true');
    else button.removeAttribute('aria-current');
  });
}
