import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { checkOutboundUrl, guardedLookup, isPrivateAddress, OutboundAddressRefused } from '../../src/net/outbound-guard.js';
import { listenLoopback, type LoopbackServer } from '../helpers/loopback-http.js';

describe('outbound address guard', () => {
  it('judges private, loopback, link-local and reserved addresses private', () => {
    for (const ip of [
      '127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
      '100.64.0.1', '100.127.255.254', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1',
      '198.18.0.1', '192.0.0.170', '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1',
      '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '::ffff:169.254.169.254', '64:ff9b::a00:1', '2002:a00:1::1',
      '::127.0.0.1', '[::1]', 'localhost', 'not-an-ip',
    ]) {
      assert.equal(isPrivateAddress(ip), true, ip);
    }
  });

  it('judges public unicast addresses public', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.255.0.1', '52.112.0.1', '2606:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']) {
      assert.equal(isPrivateAddress(ip), false, ip);
    }
  });

  it('refuses URLs to private hosts, literal or resolved, unless allowed', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data', 'https://10.0.0.1/', 'http://127.0.0.1:3978/v3', 'http://[::1]/', 'http://[::ffff:7f00:1]/', 'http://2130706433/', 'http://0x7f.1/', 'http://localhost:9/']) {
      await assert.rejects(checkOutboundUrl(url, { allowPrivate: false }), (error: unknown) => {
        assert.ok(error instanceof OutboundAddressRefused, url);
        assert.match(error.message, /private, loopback or link-local/);
        return true;
      });
      await checkOutboundUrl(url, { allowPrivate: true });
    }
    await checkOutboundUrl('https://8.8.8.8/v3/conversations', { allowPrivate: false });
  });

  it('refuses other schemes, plain http when https is required, credentials and garbage', async () => {
    for (const [url, options] of [
      ['file:///etc/passwd', { allowPrivate: true }],
      ['gopher://8.8.8.8/', { allowPrivate: true }],
      ['http://8.8.8.8/', { allowPrivate: true, requireHttps: true }],
      ['https://user:pw@8.8.8.8/', { allowPrivate: false }],
      ['not a url', { allowPrivate: true }],
    ] as const) {
      await assert.rejects(checkOutboundUrl(url, options), OutboundAddressRefused, url);
    }
    await checkOutboundUrl('https://8.8.8.8/', { allowPrivate: false, requireHttps: true });
    // Unresolvable now: nothing to reach; the connect-time lookup judges it if it ever resolves.
    await checkOutboundUrl('https://name.invalid/', { allowPrivate: false });
  });

  describe('at connect time', () => {
    let server: LoopbackServer;
    before(async () => {
      server = await listenLoopback(async (_req, res) => {
        res.end('reached');
      });
    });
    after(async () => server.close());

    function get(allowPrivate: boolean): Promise<string> {
      const port = new URL(server.url).port;
      const agent = new http.Agent({ lookup: guardedLookup(allowPrivate) });
      return new Promise((resolve, reject) => {
        http
          .get({ host: 'localhost', port, path: '/', agent, family: 4 }, (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => resolve(body));
          })
          .on('error', reject)
          .on('close', () => agent.destroy());
      });
    }

    it('fails the connection when the name resolves to a private address', async () => {
      await assert.rejects(get(false), (error: unknown) => {
        assert.ok(error instanceof OutboundAddressRefused);
        assert.equal(error.code, 'EOUTBOUNDREFUSED');
        return true;
      });
    });

    it('connects when private targets are allowed', async () => {
      assert.equal(await get(true), 'reached');
    });

    it('answers in the all: true form dns.lookup uses for happy eyeballs', async () => {
      const addresses = await new Promise<unknown>((resolve, reject) =>
        guardedLookup(true)('localhost', { all: true }, (error, result) => (error ? reject(error) : resolve(result))),
      );
      assert.ok(Array.isArray(addresses) && addresses.length > 0);
      await assert.rejects(
        new Promise((resolve, reject) => guardedLookup(false)('localhost', { all: true }, (error, result) => (error ? reject(error) : resolve(result)))),
        OutboundAddressRefused,
      );
    });
  });
});
