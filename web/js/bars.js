// One bar per class. Each is a meter with its own name ("Digit 7") and value text, so a screen
// reader can read the bars; the drawn fill is decoration.
export function renderBars(container, labels, probabilities = null) {
  const best = probabilities ? probabilities.indexOf(Math.max(...probabilities)) : -1;
  const rows = labels.map((label, i) => {
    const p = probabilities ? probabilities[i] : 0;
    const percent = `${(100 * p).toFixed(1)} %`;
    const row = document.createElement('div');
    row.className = i === best ? 'bar-row best' : 'bar-row';
    const name = document.createElement('span');
    name.className = 'bar-label';
    name.textContent = label;
    name.setAttribute('aria-hidden', 'true');
    const bar = document.createElement('div');
    bar.className = i === best ? 'bar best' : 'bar';
    bar.setAttribute('role', 'meter');
    bar.setAttribute('aria-label', `Digit ${label}`);
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-valuenow', (100 * p).toFixed(1));
    bar.setAttribute('aria-valuetext', probabilities ? percent : 'no prediction');
    const fill = document.createElement('div');
    fill.className = 'fill';
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement('span');
    value.className = 'bar-value';
    value.textContent = probabilities ? percent : '–';
    value.setAttribute('aria-hidden', 'true');
    row.append(name, bar, value);
    return row;
  });
  container.replaceChildren(...rows);
}
