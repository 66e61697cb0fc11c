// A self-signed certificate for the end-to-end tests of `wss://` (openssl CLI), and the
// Chromium flag that trusts exactly that certificate (its SPKI hash), not any other.
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes a certificate for 127.0.0.1 and localhost; returns its paths, text and flag. */
export function selfSigned() {
  const dir = mkdtempSync(join(tmpdir(), 'srvra-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'extendedKeyUsage=serverAuth',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  const ca = readFileSync(cert, 'utf8');
  const spki = new X509Certificate(ca).publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(spki).digest('base64');
  return { cert, key, ca, chromiumFlag: `--ignore-certificate-errors-spki-list=${hash}` };
}
