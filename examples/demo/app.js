// The demo: a shared task board whose state lives in srvra-sync and syncs through the
// reference server that serves this page. It shows the connection status and outbox
// length, the state, the history of the `board` key with rollback, and the events.
import { SrvraDataSync } from 'srvra-sync';

const $ = (id) => document.getElementById(id);
// Every tab of this page shares one cache, outbox and socket: one tab leads, the others
// follow it (the header shows which).
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`;
const sync = new SrvraDataSync({ url, room: 'demo', offline: { dbName: 'srvra-demo' }, historySize: 20 });
const sm = sync.stateManager;

function text(tag, content, className) {
  const node = document.createElement(tag);
  node.textContent = content;
  if (className) node.className = className;
  return node;
}

function renderTasks() {
  const tasks = sm.getState('board.tasks') ?? [];
  $('tasks').replaceChildren(...tasks.map((task, index) => {
    const item = document.createElement('li');
    item.className = task.done ? 'done' : '';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = task.done;
    box.addEventListener('change', () => sm.setState(`board.tasks.${index}.done`, box.checked));
    const remove = text('button', 'Delete');
    remove.addEventListener('click', () => sm.deleteState(`board.tasks.${index}`));
    item.append(box, text('span', task.title), remove);
    return item;
  }));
}

function renderHistory() {
  const entries = sm.getHistory('board').slice().reverse();
  $('history').replaceChildren(...entries.map((entry) => {
    const item = document.createElement('li');
    item.value = entry.version;
    const count = entry.value?.tasks?.length ?? 0;
    const when = new Date(entry.updatedAt).toLocaleTimeString();
    item.append(text('span', `v${entry.version} · ${count} task(s) · ${entry.origin} · ${when} `));
    if (entry.version !== sm.getVersion('board')) {
      const back = text('button', 'Roll back here');
      back.addEventListener('click', () => sm.rollback('board', entry.version));
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
  renderHistory();
  renderState();
}

sm.subscribe('*', render);
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
  sm.append('board.tasks', { title, done: false });
  $('title').value = '';
});

try {
  await sync.ready;
} catch (error) {
  $('events').prepend(text('li', `could not load the cache: ${error.message}`));
}
render();
window.demo = { sync };
