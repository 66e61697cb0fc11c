// Typed usage of the published package: `tsc --noEmit` fails when pkg/index.d.ts and the
// documented API drift apart. `@ts-expect-error` lines must stay errors.
import {
  SrvraDataSync, SrvraError, ValidationError, StorageError,
  type Applied, type HistoryEntry, type JsonValue, type Statistics, type StateUpdate,
  type PresencePeer,
} from 'srvra-sync';
import { useSyncedState, useSyncStatus, usePresence, usePendingConflicts } from 'srvra-sync/react';

// A custom strategy's name, declared so that `tsc` checks the names the app uses.
declare module 'srvra-sync' {
  interface CustomStrategies {
    'preference-merge': true;
  }
}

async function main(): Promise<void> {
  const sync = new SrvraDataSync({
    room: 'r',
    token: async () => 'jwt',
    backoff: { initialDelay: 100, jitter: false },
    offline: { dbName: 'typed' },
    mergeStrategy: 'smart-merge',
  });
  await sync.ready;
  // A WebSocket class in place of the global one (Node: the `ws` package).
  const node = new SrvraDataSync({ url: 'ws://h/sync', webSocket: WebSocket, offline: { enabled: false } });
  // @ts-expect-error webSocket is a class, not a URL
  new SrvraDataSync({ webSocket: 'ws://h/sync' });
  await node.close();
  const applied: Applied = sync.setState('todos', [{ title: 'a', done: false }]);
  const version: number = applied.version;
  const sm = sync.stateManager;
  sm.updateState('profile', { name: 'Ada' });
  sm.increment('count');
  sm.increment('count', 2);
  sm.append('log', { at: version });
  sm.deleteState('log');
  const todos = sm.getState<{ title: string; done: boolean }[]>('todos');
  const first: string | undefined = todos?.[0]?.title;
  const meta = sm.getState('todos', { withMetadata: true });
  const when: number | undefined = meta?.updatedAt;
  const results: Applied[] = sync.batch([
    { key: 'a', value: 1 },
    { op: 'increment', key: 'b', by: 2 },
    { op: 'delete', key: 'c' },
    { op: 'update', key: 'd', value: { x: true } },
  ]);
  const history: HistoryEntry[] = sm.getHistory('todos');
  sm.rollback('todos', history[0].version);
  const keys: string[] = sm.keys();
  const id: number = sm.subscribe('todos', (value: JsonValue | undefined, update: StateUpdate) => {
    const origin: 'local' | 'remote' | 'rollback' | 'load' = update.origin;
    void [value, origin];
  }, { priority: 'high' });
  sm.unsubscribe(id);
  sync.eventBus.subscribe('data-change', (change, meta) => {
    const path: string = change.path;
    const type: string = meta.type;
    void [path, type];
  }, { filter: (change) => change.key === 'todos', priority: 'critical' });
  sync.eventBus.subscribe('batch-complete', ({ keys, count }) => void [keys.length, count]);
  sync.eventBus.subscribe('network-status', (status) => {
    const s: 'online' | 'offline' = status;
    void s;
  });
  sync.eventBus.subscribe('sync-error', ({ phase, error }) => void [phase, error.message]);
  sync.conflictResolver.setMergeRule('settings.*', 'first-write-wins');
  sync.conflictResolver.registerCustomStrategy('longest', ({ clientValue, serverValue, baseValue }) => {
    void baseValue;
    return { value: JSON.stringify(clientValue).length > JSON.stringify(serverValue).length ? clientValue : serverValue };
  });
  sync.eventBus.subscribe('conflict', (conflict) => {
    const type: string = conflict.type;
    if (conflict.resolve) conflict.resolve(conflict.clientValue);
    void type;
  });
  sync.eventBus.subscribe('conflict-resolved', ({ outcome, value }) => void [outcome, value]);
  for (const pending of sync.conflictResolver.getPendingConflicts()) pending.resolve(pending.serverValue);
  const settled: number = sync.conflictResolver.getConflictHistory().length;
  const pendingCount: number = sync.getStatistics().conflictsPending;
  void [settled, pendingCount];
  const stats: Statistics = sync.getStatistics();
  const status: string = sync.status;
  await sync.whenPersisted();
  await sync.close();
  try {
    sync.setState('x', 1);
  } catch (error) {
    if (error instanceof ValidationError || error instanceof StorageError) {
      const code: string = error.code;
      void code;
    }
    void (error instanceof SrvraError);
  }
  // @ts-expect-error functions are not JSON
  sync.setState('bad', () => 1);
  // @ts-expect-error unknown event types are rejected
  sync.eventBus.subscribe('data-chnage', () => {});
  // @ts-expect-error priorities are a closed set
  sm.subscribe('k', () => {}, { priority: 'urgent' });
  void [first, when, results, keys, stats, status];

  // Encryption at rest, and resolveConflict as the seed writes it.
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const secure = new SrvraDataSync({ encryption: { enabled: true, algorithm: 'AES-256-GCM', key } });
  const lazy = new SrvraDataSync({ encryption: { enabled: true, key: async () => key } });
  await secure.rotateEncryptionKey(key);
  secure.eventBus.subscribe('conflict', (event) => {
    if (event.key === 'userProfile') {
      return secure.conflictResolver.resolveConflict({ strategy: 'preference-merge', ...event });
    }
  });
  const done: Promise<void> = secure.conflictResolver.resolveConflict({ strategy: 'mine', id: 1 });
  // @ts-expect-error only AES-256-GCM
  void new SrvraDataSync({ encryption: { enabled: true, algorithm: 'AES-128-CBC' } });
  void [lazy, done];
}

void main;

// Presence (README "Presence").
function presenceUsage(sync: SrvraDataSync): void {
sync.presence.set({ name: 'Ada', cursor: { x: 1, y: 2 } });
sync.presence.set(null);
const mine: { [key: string]: JsonValue } | null = sync.presence.get();
const peers: PresencePeer[] = sync.presence.others();
const peerName: JsonValue = peers[0]?.state.name ?? null;
const userId: string | undefined = peers[0]?.userId;
const presenceId: number = sync.presence.subscribe((others) => others.map((o) => o.lastSeen));
sync.presence.unsubscribe(presenceId);
sync.eventBus.subscribe('presence', ({ others }) => others.length);
new SrvraDataSync({ presence: { throttle: 100 } });
new SrvraDataSync({ url: ['wss://a.example.com/sync', 'wss://b.example.com/sync'] });
const serverUrl: string | null = sync.getStatistics().url;
void serverUrl;
void [mine, peerName, userId];
}
void presenceUsage;

// React hooks (srvra-sync/react).
function Board({ client }: { client: SrvraDataSync | null }) {
  const [title, setTitle] = useSyncedState<string>(client, 'board.title');
  setTitle('x');
  setTitle((current) => `${current ?? ''}!`);
  const status: string = useSyncStatus(client);
  const [others, setMine] = usePresence(client);
  setMine({ name: 'Ada' });
  const pending = usePendingConflicts(client);
  pending[0]?.resolve('mine');
  return [title, status, others.length];
}
void Board;
