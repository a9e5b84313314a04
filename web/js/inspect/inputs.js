// The "try it" form: one fieldset per model input, fed from typed numbers, random values or (for an
// image input) the drawing pad / an uploaded picture; and the values it gives, as tensors by name.
/* global tf */
import { el } from './dom.js';
import { shapeText } from './format.js';
import { ImageInput, isImageInput } from './image.js';
import { parseValues, randomShape, randomValues, seededRandom } from './values.js';

const MODES = { numbers: 'Numbers I type', random: 'Random values', image: 'An image' };

export class InputForm {
  // specs: [{name, shape, dtype}] as the model takes them; golden: golden.json (format 2) or null,
  // whose shapes and value ranges shape the random inputs.
  constructor(container, specs, golden) {
    this.specs = specs;
    this.golden = golden?.format === 2 ? Object.fromEntries(golden.inputs.map((x) => [x.name, x])) : {};
    this.fields = specs.map((spec, i) => this.field(spec, i));
    this.seed = el('input', { type: 'number', id: 'seed', value: '1', min: '0', step: '1', className: 'seed' });
    container.replaceChildren(
      ...this.fields.map((f) => f.node),
      el('p', { className: 'seed-row' }, el('label', { htmlFor: 'seed' }, 'Random seed (for the random inputs)'), this.seed),
    );
  }

  field(spec, i) {
    const id = `in-${i}`;
    const image = isImageInput(spec) ? new ImageInput(spec, id) : null;
    const modes = Object.keys(MODES).filter((m) => m !== 'image' || image);
    const mode = el('select', { id: `${id}-mode` }, ...modes.map((m) => el('option', { value: m }, MODES[m])));
    mode.value = image ? 'image' : 'random';
    const hint = spec.dtype === 'bool' ? 'true/false or 1/0' : spec.dtype === 'int32' ? 'whole numbers' : 'numbers';
    const text = el('textarea', { id: `${id}-text`, rows: 3, spellcheck: false, placeholder: `${hint}: a JSON list (nested or flat) or values separated by commas`, 'aria-describedby': `${id}-help` });
    const help = el('p', { id: `${id}-help`, className: 'small' }, `Shape ${shapeText(spec.shape)}, ${spec.dtype}. A flat list fills the one unknown dim (the batch); nested JSON gives every dim.`);
    const numbers = el('div', { className: 'numbers' }, el('label', { htmlFor: text.id }, `Values for ${spec.name}`), text, help);
    const node = el('fieldset', { className: 'input-field', dataset: { input: spec.name } },
      el('legend', {}, `${spec.name} `, el('span', { className: 'small' }, `${shapeText(spec.shape)} ${spec.dtype}`)),
      el('label', { htmlFor: mode.id }, 'Feed it'), mode, numbers, image ? image.node : null);
    const show = () => {
      numbers.hidden = mode.value !== 'numbers';
      if (image) image.node.hidden = mode.value !== 'image';
    };
    mode.addEventListener('change', show);
    show();
    return { spec, node, mode, text, image };
  }

  // {name: {shape, dtype, values}} for every input, or an Error naming the input at fault.
  values() {
    const random = seededRandom(Number(this.seed.value) || 0);
    const fed = {};
    for (const { spec, mode, text, image } of this.fields) {
      const golden = this.golden[spec.name];
      try {
        if (mode.value === 'image') fed[spec.name] = { dtype: spec.dtype, ...image.pixels() };
        else if (mode.value === 'numbers') fed[spec.name] = { dtype: spec.dtype, ...parseValues(text.value, spec) };
        else {
          const shape = randomShape(spec, golden?.shape);
          fed[spec.name] = { dtype: spec.dtype, shape, values: randomValues(spec, shape, random, golden?.values) };
        }
      } catch (err) {
        throw new Error(`input ${spec.name}: ${err.message}`);
      }
    }
    return fed;
  }
}

export function toTensors(fed) {
  return Object.fromEntries(Object.entries(fed).map(([name, x]) => [name, tf.tensor(x.values, x.shape, x.dtype)]));
}
