// The demo: a shared task board whose state lives in srvra-sync and syncs through the
// reference server that serves this page. The tasks are a collection (one key per task,
// `task:<id>`, with a fractional order), so two people adding, ticking, renaming, moving
// and deleting tasks at once lose nothing. It shows who is here (presence: name, colour,
// the task each person is editing, live cursors), the connection status and outbox
// length, the state, the history of the last task changed with rollback, and the events.
import { SrvraDataSync } from 'srvra-sync';

const $ = (id) => document.getElementById(id);
// Every tab of this page shares one cache, outbox and socket: one tab leads, the others
// follow it (the header shows which).
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`;
const sync = new SrvraDataSync({ url, room: 'demo', offline: { dbName: 'srvra-demo' }, historySize: 20 });
const sm = sync.stateManager;
const tasks = sync.collection('task');
// The task whose history the history panel shows: the last one changed.
let shownKey = null;

function text(tag, content, className) {
  const node = document.createElement(tag);
  node.textContent = content;
  if (className) node.className = className;
  return node;
}

// Presence: who I am (kept per browser), what I edit, where my cursor is.
const colors = ['#e0457b', '#2f8a4c', '#1f6fb2', '#a86b00', '#7a4cc2', '#c2410c'];
const me = JSON.parse(localStorage.getItem('srvra-demo-me') ?? 'null') ?? {
  name: `Guest ${Math.floor(Math.random() * 900 + 100)}`,
  color: colors[Math.floor(Math.random() * colors.length)],
};
localStorage.setItem('srvra-demo-me', JSON.stringify(me));
let editing = null;
let cursor = null;
const announce = () => sync.presence.set({ ...me, editing, cursor });

function editorsOf(id) {
  return sync.presence.others().filter((o) => o.state.editing === id);
}

function renderTasks() {
  const items = tasks.list();
  $('tasks').replaceChildren(...items.map(({ id, value: task }, index) => {
    const item = document.createElement('li');
    item.className = task.done ? 'done' : '';
    item.dataset.id = id;
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = task.done;
    box.addEventListener('change', () => tasks.update(id, { done: box.checked }));
    const title = text('span', task.title);
    title.contentEditable = 'true';
    title.addEventListener('focus', () => { editing = id; announce(); });
    title.addEventListener('blur', () => {
      editing = null;
      announce();
      const next = title.textContent.trim();
      if (next && next !== task.title) tasks.update(id, { title: next });
    });
    title.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); title.blur(); } });
    const up = text('button', '↑');
    up.title = 'Move up';
    up.disabled = index === 0;
    up.addEventListener('click', () => tasks.move(id, { before: items[index - 1].id }));
    const remove = text('button', 'Delete');
    remove.addEventListener('click', () => tasks.remove(id));
    item.append(box, title, text('span', '', 'tags'), up, remove);
    return item;
  }));
  renderEditors();
}

// Who edits which task: only the tags change, so a title being edited keeps its focus.
function renderEditors() {
  document.querySelectorAll('#tasks li').forEach((item) => {
    const tags = item.querySelector('.tags');
    tags.replaceChildren(...editorsOf(item.dataset.id).map((o) => {
      const tag = text('small', `${o.state.name} is editing`, 'editing');
      tag.style.background = o.state.color;
      return tag;
    }));
  });
}

function renderPeople() {
  const others = sync.presence.others();
  const person = (state, suffix) => {
    const item = text('li', `${state.name}${suffix}`);
    item.prepend(Object.assign(document.createElement('i'), { className: 'dot', style: `background:${state.color}` }));
    return item;
  };
  const titleOf = (id) => tasks.get(id)?.title ?? 'a task';
  $('people').replaceChildren(person(me, ' (you)'), ...others.map((o) => person(o.state, o.state.editing != null ? ` · editing ${titleOf(o.state.editing)}` : '')));
  $('cursors').replaceChildren(...others.filter((o) => o.state.cursor).map((o) => {
    const mark = text('span', o.state.name, 'cursor');
    mark.style.left = `${o.state.cursor.x * 100}%`;
    mark.style.top = `${o.state.cursor.y * 100}%`;
    mark.style.borderColor = o.state.color;
    mark.style.background = o.state.color;
    return mark;
  }));
  renderEditors();
}

sync.presence.subscribe(renderPeople);
$('board').addEventListener('pointermove', (event) => {
  const box = $('board').getBoundingClientRect();
  cursor = { x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height };
  announce();
});
$('board').addEventListener('pointerleave', () => { cursor = null; announce(); });

function renderHistory() {
  const key = shownKey;
  $('history-key').textContent = key === null ? '' : ` of ${key}`;
  const entries = key === null ? [] : sm.getHistory(key).slice().reverse();
  $('history').replaceChildren(...entries.map((entry) => {
    const item = document.createElement('li');
    item.value = entry.version;
    const what = entry.value === undefined ? 'deleted' : `"${entry.value.title}"${entry.value.done ? ' (done)' : ''}`;
    const when = new Date(entry.updatedAt).toLocaleTimeString();
    item.append(text('span', `v${entry.version} · ${what} · ${entry.origin} · ${when} `));
    if (entry.version !== sm.getVersion(key)) {
      const back = text('button', 'Roll back here');
      back.addEventListener('click', () => sm.rollback(key, entry.version));
      item.append(back);
    }
    return item;
  }));
}

function renderState() {
  $('state').textContent = JSON.stringify(Object.fromEntries(sm.keys().map((k) => [k, sm.getState(k)])), null, 2);
  renderStatus();
}

function renderStatus() {
  const stats = sync.getStatistics();
  $('status').textContent = sync.status;
  $('status').className = `badge ${sync.status}`;
  $('outbox').textContent = `outbox: ${stats.outboxLength}`;
  $('tab').textContent = `this tab: ${stats.tab}`;
  const rtt = stats.lastRoundTripMs == null ? '' : ` · ping ${stats.lastRoundTripMs.toFixed(0)} ms`;
  $('stats').textContent = `${stats.operations} ops · ${stats.keys} keys · ${stats.remoteOperations} received${rtt}`;
}

function render() {
  renderTasks();
  renderPeople();
  renderHistory();
  renderState();
}

sm.subscribe('*', (value, update) => {
  if (update.key.startsWith('task:')) shownKey = update.key;
  render();
});
sync.eventBus.subscribe('data-change', (change, meta) => {
  const line = `${new Date(meta.timestamp).toLocaleTimeString()} ${change.origin} ${change.path} → v${change.version}`;
  $('events').prepend(text('li', line));
});
sync.eventBus.subscribe('sync-error', ({ phase, error }) => {
  $('events').prepend(text('li', `sync-error (${phase}): ${error.message}`));
});
sync.eventBus.subscribe('network-status', (status, meta) => {
  $('events').prepend(text('li', `network: ${status} (${meta.detail})`));
  renderStatus();
});
sync.eventBus.subscribe('reconnecting', ({ attempt, delay }) => {
  $('events').prepend(text('li', `reconnecting: attempt ${attempt} in ${delay} ms`));
  renderStatus();
});
sync.eventBus.subscribe('sync-complete', renderStatus);
setInterval(renderStatus, 1000);

$('add').addEventListener('submit', (event) => {
  event.preventDefault();
  const title = $('title').value.trim();
  if (!title) return;
  tasks.add({ title, done: false });
  $('title').value = '';
});

try {
  await sync.ready;
} catch (error) {
  $('events').prepend(text('li', `could not load the cache: ${error.message}`));
}
announce();
render();
window.demo = { sync };
