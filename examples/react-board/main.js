// The task board of examples/demo, in React with the hooks of `srvra-sync/react`, on the
// same room and keys: the tasks are a collection (`useCollection`: one key per task, so
// concurrent adds, edits and deletes all survive) and a shared note, who is here (presence) with live cursors and the task each
// person is editing, the sync status and the conflicts waiting. Each component counts its
// renders (shown, and in `window.board.renders`): a change to the note does not re-render
// the task list, and the reverse. Runs in StrictMode.
import { StrictMode, createElement as h, memo, useCallback, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SrvraDataSync } from 'srvra-sync';
import { useCollection, usePendingConflicts, usePresence, useSyncStatus, useSyncedState } from 'srvra-sync/react';

// `?server=ws://host:port/sync` points at another server (the tests use it).
const params = new URLSearchParams(location.search);
const url = params.get('server') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`;
const sync = new SrvraDataSync({
  url,
  room: params.get('room') ?? 'demo',
  offline: { dbName: params.get('db') ?? 'srvra-demo' },
});
const renders = { tasks: 0, note: 0, people: 0, status: 0 };
window.board = { sync, renders };

const colors = ['#e0457b', '#2f8a4c', '#1f6fb2', '#a86b00', '#7a4cc2'];
const me = {
  name: params.get('name') ?? `Guest ${Math.floor(Math.random() * 900 + 100)}`,
  color: colors[Math.floor(Math.random() * colors.length)],
};

function useCount(name) {
  renders[name] += 1;
  return renders[name];
}

function Status() {
  const count = useCount('status');
  const status = useSyncStatus(sync);
  const conflicts = usePendingConflicts(sync);
  return h('header', null,
    h('h1', null, 'srvra-sync board (React)'),
    h('span', { id: 'status', className: `badge ${status}` }, status),
    h('span', { className: 'badge' }, `conflicts waiting: ${conflicts.length}`),
    h('span', { className: 'muted' }, `renders: ${count}`));
}

const People = memo(function People({ others }) {
  const count = useCount('people');
  return h('ul', { id: 'people', className: 'people' },
    [{ clientId: 'me', tab: 'me', state: { ...me, name: `${me.name} (you)` } }, ...others].map((o) => h('li', { key: `${o.clientId}/${o.tab}` },
      h('i', { className: 'dot', style: { background: o.state.color } }),
      o.state.name,
      o.state.editing != null ? ' · editing a task' : '')),
    h('li', { className: 'muted' }, `renders: ${count}`));
});

const Tasks = memo(function Tasks({ others, onEdit }) {
  const count = useCount('tasks');
  const [tasks, collection] = useCollection(sync, 'task');
  const [title, setTitle] = useState('');
  const add = (event) => {
    event.preventDefault();
    if (!title.trim()) return;
    collection.add({ title: title.trim(), done: false });
    setTitle('');
  };
  return h('div', null,
    h('form', { id: 'add', onSubmit: add },
      h('input', { id: 'title', value: title, placeholder: 'New task', onChange: (e) => setTitle(e.target.value) }),
      h('button', null, 'Add')),
    h('ul', { id: 'tasks' }, tasks.map(({ id, value: task }) => h('li', { key: id, className: task.done ? 'done' : '' },
      h('input', {
        type: 'checkbox',
        checked: task.done,
        onChange: () => collection.update(id, { done: !task.done }),
      }),
      h('span', { tabIndex: 0, onFocus: () => onEdit(id), onBlur: () => onEdit(null) }, task.title),
      ...others.filter((o) => o.state.editing === id).map((o) => h('small', {
        key: `${o.clientId}/${o.tab}`, className: 'editing', style: { background: o.state.color },
      }, `${o.state.name} is editing`)),
      h('button', { onClick: () => collection.remove(id) }, 'Delete')))),
    h('p', { className: 'muted', id: 'tasks-renders' }, `renders: ${count}`));
});

const Note = memo(function Note() {
  const count = useCount('note');
  const [note = '', setNote] = useSyncedState(sync, 'note');
  return h('div', null,
    h('textarea', { id: 'note', value: note, onChange: (e) => setNote(e.target.value) }),
    h('p', { className: 'muted', id: 'note-renders' }, `renders: ${count}`));
});

function Cursors({ others }) {
  return h('div', { className: 'cursors' }, others.filter((o) => o.state.cursor).map((o) => h('span', {
    key: `${o.clientId}/${o.tab}`,
    className: 'cursor',
    style: { left: `${o.state.cursor.x * 100}%`, top: `${o.state.cursor.y * 100}%`, background: o.state.color },
  }, o.state.name)));
}

function App() {
  const [others, setMine] = usePresence(sync);
  const [editing, setEditing] = useState(null);
  const [cursor, setCursor] = useState(null);
  useEffect(() => setMine({ ...me, editing, cursor }), [setMine, editing, cursor]);
  const move = useCallback((event) => {
    const box = event.currentTarget.getBoundingClientRect();
    setCursor({ x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height });
  }, []);
  return h('div', null,
    h(Status),
    h('main', null,
      h('section', { id: 'board', onPointerMove: move, onPointerLeave: () => setCursor(null) },
        h(Cursors, { others }),
        h('h2', null, 'Who is here'),
        h(People, { others }),
        h('h2', null, 'Tasks'),
        h(Tasks, { others, onEdit: setEditing })),
      h('section', null,
        h('h2', null, 'Shared note'),
        h(Note))));
}

createRoot(document.getElementById('root')).render(h(StrictMode, null, h(App)));
