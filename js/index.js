// srvra-sync for browsers and bundlers (Vite, webpack, a plain <script type="module">):
// fetches and instantiates the wasm next to this file, then exports the API.
import init from './srvra_sync.js';

await init();

export * from './sdk.js';
