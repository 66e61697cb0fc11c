// The socket class the SDK connects with: `config.webSocket` made safe for Node.

const ignore = () => {};

/**
 * `Base` with an `error` listener on every instance. The `ws` package (Node) is an
 * EventEmitter: an `error` nobody listens to ends the process ("Unhandled 'error' event")
 * on a refused connection, a wrong path (404) or `close()` while connecting. Every error
 * is followed by `close`, which is what the SDK reacts to, so the error itself is ignored.
 */
export function guardedSocketClass(Base) {
  return class GuardedWebSocket extends Base {
    constructor(...args) {
      super(...args);
      if (typeof this.addEventListener === 'function') this.addEventListener('error', ignore);
    }
  };
}
