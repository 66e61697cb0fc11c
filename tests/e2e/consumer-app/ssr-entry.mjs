// Server-side rendering: a module that imports srvra-sync at the top, as an app's shared
// code would, and renders with a client created on the server.
import { SrvraDataSync } from 'srvra-sync';

export function render() {
  const sync = new SrvraDataSync({ offline: { enabled: false } });
  sync.setState('title', 'rendered on the server');
  return `<h1>${sync.getState('title')}</h1>`;
}
