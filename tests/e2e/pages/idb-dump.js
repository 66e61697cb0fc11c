// Test helper: every key and value of an IndexedDB database as text, the way someone who
// copied the database files would see them (bytes as Latin-1, so ASCII text shows).
export async function dumpDatabase(name) {
  const request = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const db = await request(indexedDB.open(name));
  const text = (value) => {
    if (value instanceof Uint8Array) return new TextDecoder('latin1').decode(value);
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return String(value);
    return Object.prototype.toString.call(value);
  };
  const parts = [];
  for (const store of db.objectStoreNames) {
    const s = db.transaction(store).objectStore(store);
    const [keys, values] = await Promise.all([request(s.getAllKeys()), request(s.getAll())]);
    keys.forEach((key, i) => parts.push(`${store}/${text(key)} = ${text(values[i])}`));
  }
  db.close();
  return parts.join('\n');
}

/** An AES-256-GCM key derived from a passphrase with PBKDF2 (the README's example). */
export async function keyFromPassphrase(passphrase, salt = 'srvra-sync-e2e') {
  const material = await crypto.subtle.importKey(
    'raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey'],
  );
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', salt: new TextEncoder().encode(salt), iterations: 100_000, hash: 'SHA-256' },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}
