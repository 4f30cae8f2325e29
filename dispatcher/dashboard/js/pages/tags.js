// Tags: create, rename or recolour, delete (which detaches the tag from every function).

import { api } from '../api.js';
import { busy, errorNotice, field, fill, h, markInvalid, table, toast } from '../dom.js';

function swatch(color) {
  // The colour is shown as a filled SVG square: no inline style attribute (the CSP forbids it).
  if (!color) return h('span', { class: 'muted', text: '—' });
  return h('span', {}, h('svg', { width: '14', height: '14', viewBox: '0 0 14 14', 'aria-hidden': 'true' },
    h('rect', { width: '14', height: '14', rx: '3', fill: color })), ' ', h('code', { text: color }));
}

function editRow(tag, reload, out) {
  const name = h('input', { name: 'name', value: tag.name, 'aria-label': `New name for tag ${tag.name}`, size: '14' });
  const color = h('input', { name: 'color', type: 'color', value: tag.color || '#1f6b43', 'aria-label': `Colour of tag ${tag.name}` });
  const save = h('button', { type: 'submit', class: 'secondary', text: 'Save' });
  const remove = h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete tag ${tag.name}` });
  const form = h('form', { class: 'actions' }, name, color, save, remove);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(save, async () => {
      await api(`/v1/tag/${tag.id}`, { method: 'PATCH', json: { name: name.value.trim(), color: color.value } });
      toast(`Tag ${name.value.trim()} saved`);
      await reload();
    }, out);
  });
  remove.addEventListener('click', () => {
    if (!window.confirm(`Delete tag ${tag.name}? Functions keep running; they just lose the tag.`)) return;
    busy(remove, async () => {
      await api(`/v1/tag/${tag.id}`, { method: 'DELETE' });
      toast(`Tag ${tag.name} deleted`);
      await reload();
    }, out);
  });
  return form;
}

export async function render(root) {
  const out = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const name = h('input', { name: 'name', required: true, maxlength: '64', autocomplete: 'off' });
  const color = h('input', { name: 'color', type: 'color', value: '#1f6b43' });
  const add = h('button', { type: 'submit', text: 'Add tag' });
  const form = h('form', { class: 'inline', 'aria-label': 'New tag' }, field('Name', name), field('Colour', color), add);

  async function reload() {
    const tags = await api('/v1/tag/list');
    fill(list, table([
      { label: 'Tag', cell: (t) => h('strong', { text: t.name }) },
      { label: 'Colour', cell: (t) => swatch(t.color) },
      { label: 'Functions', cell: (t) => h('a', { href: `#/functions?tag=${t.id}`, text: 'functions with this tag' }) },
      { label: 'Edit', cell: (t) => editRow(t, reload, out) },
    ], tags, { empty: 'No tags yet. Tags group functions; filter the function list by them.' }));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(add, async () => {
      try {
        await api('/v1/tag', { method: 'POST', json: { name: name.value.trim(), color: color.value } });
        markInvalid(form, {});
        fill(out);
        toast(`Tag ${name.value.trim()} added`);
        form.reset();
        await reload();
      } catch (error) {
        markInvalid(form, error);
        fill(out, errorNotice(error, 'Not added'));
      }
    });
  });
  fill(root, h('h1', { text: 'Tags' }), form, out, list);
  await reload();
  return null;
}
