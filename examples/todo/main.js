import { SrvraDataSync } from 'srvra-sync';

// The server of step 1 (`?server=`, `?room=` and `?db=` pick another server, list or
// device; the tests use them).
const params = new URLSearchParams(location.search);
const sync = new SrvraDataSync({
  url: params.get('server') ?? `ws://${location.hostname}:8787/sync`,
  room: params.get('room') ?? 'todo',
  offline: { dbName: params.get('db') ?? 'todo' },
});
// One key per task (`todo:<id>`): concurrent adds, ticks, renames and deletes all survive.
const todos = sync.collection('todo');
// Two people renaming one task at once: ask instead of keeping one silently.
sync.conflictResolver.setMergeRule('todo:*.title', 'manual');

const $ = (id) => document.getElementById(id);
const element = (tag, props) => Object.assign(document.createElement(tag), props);

function render(items) {
  $('todos').replaceChildren(...items.map(({ id, value }) => {
    const done = element('input', { type: 'checkbox', checked: value.done });
    done.onchange = () => todos.update(id, { done: done.checked });
    const title = element('input', { value: value.title });
    title.onchange = () => todos.update(id, { title: title.value });
    const remove = element('button', { textContent: '×', title: 'Delete' });
    remove.onclick = () => todos.remove(id);
    const item = element('li', { className: value.done ? 'done' : '' });
    item.append(done, title, remove);
    return item;
  }));
}
// Called for changes here, in other tabs, from other devices, and for the list loaded
// from IndexedDB at `ready`: the page never shows an empty list it has.
todos.subscribe(render);

$('add').onsubmit = (event) => {
  event.preventDefault();
  const title = $('title').value.trim();
  if (title) todos.add({ title, done: false });
  $('title').value = '';
};

// One atomic batch: other devices never see half of it.
$('clear').onclick = () => sync.batch(todos.list()
  .filter(({ value }) => value.done)
  .map(({ id }) => ({ op: 'delete', key: `todo:${id}` })));

const showStatus = () => { $('status').textContent = sync.status; };
for (const event of ['network-status', 'reconnecting', 'sync-complete']) {
  sync.eventBus.subscribe(event, showStatus);
}

// A rename that met another one: show both and keep the one the user picks. The conflict
// is about that title only; the rest of the task (and the list) is untouched.
sync.eventBus.subscribe('conflict', (conflict) => {
  if (conflict.id === undefined) return; // already settled by the server
  const box = element('p', { textContent: `Renamed twice: ` });
  for (const title of [conflict.clientValue, conflict.serverValue]) {
    const keep = element('button', { textContent: `Keep "${title}"` });
    keep.onclick = () => {
      conflict.resolve(title);
      box.remove();
    };
    box.append(keep);
  }
  $('conflicts').append(box);
});

await sync.ready;
showStatus();
window.todo = { sync, todos };
