// A function's details editor (name, description, tags), its build log viewer, and the page
// left after a delete, which can undo it.

import { api } from '../api.js';
import { busy, errorNotice, fill, field, h, markInvalid, notice, toast } from '../dom.js';
import { when } from '../format.js';

/** Name, description and tags of `fn`; `saved` runs after a change. */
export function editForm(fn, tags, saved) {
  const out = h('div', { 'aria-live': 'polite' });
  const name = h('input', { name: 'name', value: fn.name, required: true, maxlength: '64' });
  const description = h('textarea', { name: 'description', rows: '2', maxlength: '256' });
  description.value = fn.description || '';
  const chosen = new Set(fn.tags.map((t) => t.id));
  const tagSelect = h('select', { name: 'tag', multiple: true, size: String(Math.min(4, Math.max(2, tags.length))) },
    tags.map((t) => h('option', { value: t.id, text: t.name, selected: chosen.has(t.id) })));
  const button = h('button', { type: 'submit', text: 'Save details' });
  const form = h('form', { class: 'stack' },
    field('Name', name, 'Letters and digits only.'),
    field('Description', description),
    tags.length ? field('Tags', tagSelect, 'Ctrl/⌘-click to pick several.') : null,
    h('div', {}, button), out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      const body = { name: name.value.trim(), description: description.value.trim() };
      if (tags.length) body.tag = [...tagSelect.selectedOptions].map((option) => option.value);
      try {
        await api(`/v1/function/${fn.id}`, { method: 'PATCH', json: body });
      } catch (error) {
        markInvalid(form, error);
        fill(out, errorNotice(error, 'Not saved'));
        return;
      }
      toast(`${body.name} saved`);
      await saved();
    });
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'edit-title' }, h('h2', { id: 'edit-title', text: 'Details' }), form);
}

/** A button that shows build `id`'s timeline and log in `target`. */
export function logButton(id, target) {
  const button = h('button', { type: 'button', class: 'secondary', text: 'Log', 'aria-label': `Log of build ${id.slice(0, 8)}` });
  button.addEventListener('click', () => busy(button, async () => {
    const build = await api(`/v1/build/${id}`);
    const steps = (build.timeline || []).map((step) => `${when(step.time)}  ${step.status}`);
    fill(target, h('section', { class: 'panel', 'aria-labelledby': 'log-title' },
      h('h3', { id: 'log-title', text: `Build ${id.slice(0, 8)}: ${build.status}` }),
      h('pre', { class: 'output', 'aria-label': 'Build log', text: [...steps, '', ...build.log].join('\n') })));
  }, target));
  return button;
}

/** What is left of a deleted function: a way back. */
export function deletedPage(root, fn, restored) {
  const out = h('div', { 'aria-live': 'polite' });
  const restore = h('button', { type: 'button', text: 'Restore' });
  restore.addEventListener('click', () => busy(restore, async () => {
    await api(`/v1/function/${fn.id}/restore`, { method: 'POST' });
    toast(`${fn.name} restored`);
    await restored();
  }, out));
  fill(root,
    h('p', {}, h('a', { href: '#/functions', text: '← Functions' })),
    h('h1', { text: fn.name }),
    notice('warn', `${fn.name} is deleted: new tasks are refused and it is gone from the list. Its builds, tags and capabilities are kept, so it can come back.`),
    h('div', { class: 'actions' }, restore), out);
}
