/**
 * The Bot Framework as far as Sideline's Teams endpoint sees it: OpenID metadata and a JWKS on a
 * loopback port, and tokens signed with its key (or a foreign one, or none) for the corpus.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type KeyObject } from 'jose';
import type { TeamsTokenOverrides } from './corpus.js';

export const TEAMS_ISSUER = 'https://api.botframework.com';

export interface TeamsFake {
  metadataUrl: string;
  token(appId: string, overrides?: TeamsTokenOverrides): Promise<string>;
  close(): Promise<void>;
}

type Key = CryptoKey | KeyObject;

export async function startTeamsFake(): Promise<TeamsFake> {
  const ours = await generateKeyPair('RS256', { extractable: true });
  const foreign = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(ours.publicKey)), kid: 'faults-key', alg: 'RS256', use: 'sig' };
  let port = 0;
  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/openid') res.end(JSON.stringify({ issuer: TEAMS_ISSUER, jwks_uri: `http://127.0.0.1:${port}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
    else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as AddressInfo).port;
  const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return {
    metadataUrl: `http://127.0.0.1:${port}/openid`,
    async token(appId, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      const claims = { serviceurl: 'http://127.0.0.1:9/teams' };
      if (o.alg === 'none') {
        return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, iss: TEAMS_ISSUER, aud: appId, exp: now + 600 })}.`;
      }
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'faults-key', typ: 'JWT' })
        .setIssuer(o.iss ?? TEAMS_ISSUER)
        .setAudience(o.aud ?? appId)
        .setIssuedAt(now - 10)
        .setExpirationTime(o.exp ?? now + 600);
      if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
      return jwt.sign((o.foreignKey ? foreign.privateKey : ours.privateKey) as Key);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
