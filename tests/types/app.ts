// The published types, used the way an app uses them (issue 27): `interface` types for
// state, typed conflicts and presence, the top-level shortcuts, collections, and typos
// that must not compile. `tsc --noEmit` runs over this file against the installed package.
import { SrvraDataSync, type Conflict } from 'srvra-sync';
import { useCollection, usePresence, useSyncedState } from 'srvra-sync/react';

interface Task {
  title: string;
  done: boolean;
  tags?: string[];
}

interface Cursor {
  x: number;
  y: number;
  name: string;
}

declare module 'srvra-sync' {
  interface CustomStrategies {
    'keep-longest': true;
  }
}

export async function app(): Promise<void> {
  const sync = new SrvraDataSync({ url: 'ws://localhost:8787/sync', mergeStrategy: 'manual' });
  await sync.ready;
  await sync.whenSynced();

  // An interface is accepted where JSON goes (it has no index signature).
  const task: Task = { title: 'Write Q3 report', done: false };
  sync.setState('task:1', task);
  sync.stateManager.setState('tasks', [task]);
  sync.updateState('task:1', { done: true });
  sync.deleteState('task:1');
  sync.increment('count');
  sync.append('log', { at: 1 });
  const read: Task | undefined = sync.getState<Task>('task:1');
  const id = sync.subscribe<Task>('task:1', (value, update) => {
    const title: string | undefined = value?.title;
    const origin: 'local' | 'remote' | 'rollback' | 'load' = update.origin;
    void title;
    void origin;
  });
  sync.unsubscribe(id);
  void read;
  const keys: string[] = sync.stateManager.keys('task:*');
  void keys;

  // @ts-expect-error a Date is not JSON
  sync.setState('when', { at: new Date() });
  // @ts-expect-error a function is not JSON
  sync.setState('fn', { run: () => 1 });

  // Collections.
  const tasks = sync.collection<Task>('task');
  const added: string = tasks.add({ title: 'Book flights', done: false });
  tasks.update(added, { done: true });
  tasks.move(added, { before: 'other' });
  const first: string | undefined = tasks.list()[0]?.value.title;
  void first;

  // Conflicts: typed values and a callable resolve.
  sync.conflictResolver.registerCustomStrategy('keep-longest', (c) => ({ value: c.clientValue }));
  sync.conflictResolver.setMergeRule('task:*.title', 'manual');
  sync.conflictResolver.setMergeRule('doc', 'keep-longest');
  // @ts-expect-error a typo of a strategy name
  sync.conflictResolver.setMergeRule('doc', 'manuel');
  // @ts-expect-error a typo of the default strategy
  void new SrvraDataSync({ mergeStrategy: 'last-writer-wins' });
  sync.eventBus.subscribe('conflict', (conflict) => {
    const path: string = conflict.path;
    void path;
    conflict.resolve('Write Q3 report (draft)');
  });
  const pending = sync.conflictResolver.getPendingConflicts<string>();
  pending[0]?.resolve(`${pending[0].serverValue} / ${pending[0].clientValue}`);
  const typed: Conflict<Task> | undefined = undefined;
  void typed;

  // Presence with the app's own state type.
  sync.presence.set<Cursor>({ x: 1, y: 2, name: 'Ada' });
  const names: string[] = sync.presence.others<Cursor>().map((peer) => peer.state.name);
  void names;

  await sync.sync();
  await sync.close();
}

export function TaskList(sync: SrvraDataSync): string {
  const [tasks, setTasks] = useSyncedState<Task[]>(sync, 'tasks');
  setTasks((current) => [...(current ?? []), { title: 'x', done: false }]);
  const [items, collection] = useCollection<Task>(sync, 'task');
  collection?.add({ title: 'y', done: false });
  const [others] = usePresence<Cursor>(sync);
  return `${tasks?.length} ${items.length} ${others[0]?.state.name}`;
}
