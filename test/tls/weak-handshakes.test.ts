import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { EPHEMERAL_PORTS, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** Resolves once the handshake is done; the caller ends the socket. */
function handshake(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () =>
      resolve(socket),
    );
    socket.once('error', reject);
  });
}

/** Whether a second connection resumes the session the first one was handed. */
async function resumes(port: number, options: ConnectionOptions): Promise<boolean> {
  // TLS 1.3 hands its session over after the handshake: keep reading until the server closes.
  const session = await new Promise<Buffer | undefined>((resolve, reject) => {
    let last: Buffer | undefined;
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () =>
      socket.end(),
    );
    socket.on('session', (session: Buffer) => (last = session));
    socket.once('error', reject);
    socket.once('close', () => resolve(last));
    socket.resume();
  });
  assert.ok(session, 'the server handed out a session to try');
  const second = await handshake(port, { ...options, session });
  const reused = second.isSessionReused();
  second.destroy();
  return reused;
}

// Weak-handshake probes need a client that would accept them; OpenSSL's security level 0 lets
// the client offer SHA-1 signatures and TLS 1.0/1.1, so a refusal can only come from the server.
const WEAK_CLIENT = 'ALL:@SECLEVEL=0';

test(
  'the API listener under the default policy refuses weak handshakes that Node itself would accept',
  { timeout: 60_000 },
  async (t) => {
    const dataDir = join(tempDir(t), 'data');
    const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
    const port = server.ready.api;
    const ca = readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8');

    await t.test('control: a TLS 1.2 client of the policy’s first suite connects', async () => {
      const socket = await handshake(port, {
        ca,
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
      });
      assert.equal(socket.getProtocol(), 'TLSv1.2');
      assert.equal(socket.getCipher().name, 'ECDHE-ECDSA-AES128-GCM-SHA256');
      socket.destroy();
    });

    await t.test('a TLS 1.2 client forcing a CBC suite is refused', async () => {
      for (const ciphers of [
        'ECDHE-ECDSA-AES128-SHA',
        'ECDHE-ECDSA-AES256-SHA',
        'ECDHE-ECDSA-AES128-SHA256',
        'ECDHE-ECDSA-AES256-SHA384',
      ])
        await assert.rejects(
          handshake(port, { ca, maxVersion: 'TLSv1.2', ciphers }),
          { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' },
          ciphers,
        );
    });

    await t.test('AEAD suites outside the policy (CCM, ARIA) are refused', async () => {
      for (const ciphers of ['ECDHE-ECDSA-AES128-CCM8', 'ECDHE-ECDSA-ARIA128-GCM-SHA256'])
        await assert.rejects(
          handshake(port, { ca, maxVersion: 'TLSv1.2', ciphers }),
          { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' },
          ciphers,
        );
      await assert.rejects(
        handshake(port, { ca, minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_CCM_SHA256' }),
        { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' },
      );
    });

    await t.test('TLS 1.0 and 1.1 are refused by the server', async () => {
      for (const version of ['TLSv1', 'TLSv1.1'] as const)
        await assert.rejects(
          handshake(port, { ca, minVersion: version, maxVersion: version, ciphers: WEAK_CLIENT }),
          { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' },
          version,
        );
    });

    await t.test('a client offering only SHA-1 or SHA-224 signatures is refused', async () => {
      for (const sigalgs of ['ECDSA+SHA1', 'ECDSA+SHA224'])
        await assert.rejects(
          handshake(port, {
            ca,
            maxVersion: 'TLSv1.2',
            ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0',
            sigalgs,
          }),
          { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' },
          sigalgs,
        );
    });

    await t.test(
      'no session is ever resumed: no TLS 1.2 ticket, no usable TLS 1.3 ticket',
      async () => {
        const tls12 = await handshake(port, { ca, maxVersion: 'TLSv1.2' });
        assert.equal(tls12.getTLSTicket(), undefined, 'no TLS 1.2 session ticket');
        tls12.destroy();
        assert.equal(await resumes(port, { ca, maxVersion: 'TLSv1.2' }), false, 'TLS 1.2');
        assert.equal(await resumes(port, { ca, minVersion: 'TLSv1.3' }), false, 'TLS 1.3');
      },
    );

    await t.test('client-initiated TLS 1.2 renegotiation is refused', async () => {
      const socket = await handshake(port, { ca, maxVersion: 'TLSv1.2' });
      const outcome = await new Promise<string>((resolve) => {
        socket.once('error', (error) => resolve(error.message));
        socket.renegotiate({}, (error) => resolve(error?.message ?? 'renegotiated'));
      });
      assert.match(outcome, /no renegotiation/);
      socket.destroy();
    });
  },
);
