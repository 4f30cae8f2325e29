// Functions: the list (filtered by tag, paged by cursor), pause toggles, and a create form.

import { api, apiWithHeaders, query } from '../api.js';
import { badge, busy, errorNotice, field, fill, h, markInvalid, table, toast } from '../dom.js';
import { when } from '../format.js';

const LANGS = [['PY', 'Python'], ['JS', 'JavaScript'], ['GO', 'Go'], ['RS', 'Rust'], ['RB', 'Ruby'], ['CS', 'C#']];

function tagBadges(tags) {
  return tags.length ? tags.map((t) => [badge(t.name), ' ']) : h('span', { class: 'muted', text: '—' });
}

function createForm(tags, onCreated) {
  const out = h('div', { 'aria-live': 'polite' });
  const name = h('input', { name: 'name', required: true, pattern: '[A-Za-z0-9]+', autocomplete: 'off' });
  const description = h('input', { name: 'description', maxlength: '80' });
  const lang = h('select', { name: 'lang' }, LANGS.map(([code, label]) => h('option', { value: code, text: label })));
  const tagSelect = h('select', { name: 'tag', multiple: true, size: String(Math.min(4, Math.max(2, tags.length))) },
    tags.map((t) => h('option', { value: t.id, text: t.name })));
  const button = h('button', { type: 'submit', text: 'Create function' });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'create-fn' },
    field('Name', name, 'Letters and digits only.'),
    field('Description', description, 'Optional, at most 80 characters.'),
    field('Language', lang),
    tags.length ? field('Tags', tagSelect, 'Optional; Ctrl/⌘-click to pick several.') : null,
    h('div', {}, button), out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      const body = { name: name.value.trim(), description: description.value.trim(), lang: lang.value, type: 'DOCKER' };
      const picked = [...tagSelect.selectedOptions].map((o) => o.value);
      if (picked.length) body.tag = picked;
      try {
        const created = await api('/v1/function', { method: 'POST', json: body });
        toast(`Function ${body.name} created`);
        onCreated(created.id);
      } catch (error) {
        markInvalid(form, error);
        fill(out, errorNotice(error, 'Could not create the function'));
      }
    });
  });
  return h('section', { class: 'panel' }, h('h2', { id: 'create-fn', text: 'New function' }), form);
}

export async function render(root, route) {
  const tags = await api('/v1/tag/list');
  const tag = route.query.get('tag') || '';
  const listBox = h('div');
  const out = h('div', { 'aria-live': 'polite' });
  const filter = h('select', { name: 'tag' },
    h('option', { value: '', text: 'All tags' }),
    tags.map((t) => h('option', { value: t.id, text: t.name, selected: t.id === tag })));
  filter.addEventListener('change', () => {
    location.hash = `#/functions${query({ tag: filter.value })}`;
  });
  fill(root, h('h1', { text: 'Functions' }),
    h('form', { class: 'inline', role: 'search' }, field('Filter by tag', filter)),
    out, listBox,
    createForm(tags, (id) => { location.hash = `#/functions/${id}`; }));

  const pages = [null];
  async function load(cursor) {
    const { data, headers } = await apiWithHeaders(`/v1/function/list${query({ tag, cursor, limit: 50 })}`);
    const next = headers.get('X-Next-Cursor');
    const columns = [
      { label: 'Name', cell: (f) => h('div', {}, h('a', { href: `#/functions/${f.id}`, text: f.name }), h('br'), h('span', { class: 'muted', text: f.description })) },
      { label: 'Language', cell: (f) => f.lang },
      { label: 'Tags', cell: (f) => tagBadges(f.tags) },
      { label: 'State', cell: (f) => (f.paused ? badge('paused', 'warn') : badge('active', 'ok')) },
      { label: 'Created', cell: (f) => when(f.createdAt) },
      { label: 'Actions', cell: (f) => pauseButton(f, () => load(cursor)) },
    ];
    const pager = h('div', { class: 'pager' },
      pages.length > 1 ? h('button', { type: 'button', class: 'secondary', text: 'Previous page', onclick: () => { pages.pop(); load(pages[pages.length - 1]); } }) : null,
      next ? h('button', { type: 'button', class: 'secondary', text: 'Next page', onclick: () => { pages.push(next); load(next); } }) : null);
    fill(listBox, table(columns, data, { empty: tag ? 'No function has this tag.' : 'No functions yet: create one below.' }), pager);
  }

  function pauseButton(f, reload) {
    const label = f.paused ? 'Resume' : 'Pause';
    const button = h('button', { type: 'button', class: 'secondary', text: label, 'aria-label': `${label} ${f.name}` });
    button.addEventListener('click', () => busy(button, async () => {
      await api(`/v1/function/${f.id}/togglePause`, { method: 'POST' });
      toast(`${f.name} ${f.paused ? 'resumed' : 'paused'}`);
      await reload();
    }, out));
    return button;
  }

  await load(null);
  return null;
}
