import { join } from 'node:path';
import { parseCorsOrigins, type CorsPolicy } from './http/cors.js';
import { DEFAULT_POOL_SIZE } from './db/defaults.js';
import { DEFAULT_RELAY_CONCURRENCY } from './outbox/defaults.js';
import { packageDir } from './package-dir.js';

/** Environment → typed configuration, validated once at start with messages a person can act on. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /** PostgreSQL connections one process keeps open at most (DATABASE_POOL_SIZE). */
  databasePoolSize: number;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  publicUrl: string | undefined;
  logLevel: string;
  bodyLimitBytes: number;
  trustProxy: boolean;
  attachmentMaxBytes: number;
  /** Bytes of attachments one account may store (ATTACHMENT_QUOTA_BYTES); 0 = no quota. */
  attachmentQuotaBytes: number;
  /** disk (under DATA_DIR/attachments) or database (shared by every process on one PostgreSQL). */
  attachmentStore: 'disk' | 'database';
  /** smtp://user:pass@host:port; unset keeps outbound mail as .eml files under DATA_DIR/outbox-mail. */
  smtpUrl: string | undefined;
  /** The address side conversation mail is sent from. */
  supportAddress: string;
  /** The domain of reply+TOKEN@… addresses; mail for it must reach our SMTP listener or inbound route. */
  inboundDomain: string;
  inboundSmtpPort: number | undefined;
  inboundSmtpHost: string;
  inboundEmailSecret: string | undefined;
  inboundMaxBytes: number;
  /** Inbound SMTP sessions open at once (INBOUND_SMTP_MAX_CLIENTS); more are answered 421 at connect. */
  inboundSmtpMaxClients: number;
  /** The authserv-id of the receiving MX whose Authentication-Results vouch for senders; unset: none does. */
  inboundTrustedAuthservId: string | undefined;
  /** Run the outbox relay inside `serve` (default) or leave it to `sideline relay` processes. */
  relayInServe: boolean;
  relayPollMs: number;
  /** How long a relay owns a claimed row; a crashed relay's rows are retried after it. */
  relayLeaseMs: number;
  /** Deliveries a relay has in flight at once (different conversations). */
  relayConcurrency: number;
  /** 32 bytes (hex or base64) sealing integration secrets; unset: Slack and Teams cannot be connected. */
  encryptionKey: string | undefined;
  slackApiUrl: string;
  teamsTokenUrl: string;
  teamsOpenIdMetadataUrl: string;
  teamsJwtIssuer: string;
  /** The whole request must arrive within this; its headers within min(15 s, this). */
  requestTimeoutMs: number;
  /** Open connections per client address, and in all; 0 = no cap. */
  maxConnectionsPerClient: number;
  maxConnections: number;
  /** Let outbound requests to URLs from the API (Teams service_url) reach private addresses. */
  outboundAllowPrivate: boolean;
  /** Let webhook endpoints be plain http and loopback, private or link-local addresses (local receivers, tests). */
  webhookAllowPrivate: boolean;
  /** Side conversation creates + replies per account per 10 minutes (Zendesk: 300); 0 = off. */
  rateLimitPer10Minutes: number;
  /** Browser origins allowed to call the API (CORS_ORIGINS); null: CORS off. */
  cors: CorsPolicy | null;
  /** Bearer token of GET /metrics; unset: no metrics endpoint. */
  metricsToken: string | undefined;
  /** Bearer token of the operator API (POST /api/v2/sideline/accounts); unset: that API is off. */
  operatorToken: string | undefined;
  /** The built agent console served at /agent/: console/dist of the package (not set by the environment). */
  consoleDir: string;
}

export class ConfigError extends Error {}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = optional(env, name);
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigError(`${name} must be "true" or "false", got "${raw}"`);
}

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = optional(env, 'DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const publicUrl = optional(env, 'PUBLIC_URL');
  if (publicUrl) {
    let parsed: URL;
    try {
      parsed = new URL(publicUrl);
    } catch {
      throw new ConfigError(`PUBLIC_URL must be an absolute URL such as https://help.example.com, got "${publicUrl}"`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError('PUBLIC_URL must use http or https');
    }
  }
  const adminEmail = optional(env, 'SIDELINE_ADMIN_EMAIL');
  if (adminEmail && !/^[^\s@]+@[^\s@]+$/.test(adminEmail)) {
    throw new ConfigError(`SIDELINE_ADMIN_EMAIL is not an email address: "${adminEmail}"`);
  }
  const adminPassword = env['SIDELINE_ADMIN_PASSWORD'];
  if (adminPassword !== undefined && adminPassword !== '' && adminPassword.length < 8) {
    throw new ConfigError('SIDELINE_ADMIN_PASSWORD must be at least 8 characters long');
  }
  const logLevel = optional(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const attachmentStore = optional(env, 'ATTACHMENT_STORE') ?? (databaseUrl ? 'database' : 'disk');
  if (attachmentStore !== 'disk' && attachmentStore !== 'database') {
    throw new ConfigError(`ATTACHMENT_STORE must be "disk" or "database", got "${attachmentStore}"`);
  }
  const smtpUrl = optional(env, 'SMTP_URL');
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl)) throw new ConfigError('SMTP_URL must start with smtp:// or smtps://');
  const inboundDomain = (optional(env, 'INBOUND_DOMAIN') ?? 'sideline.localhost').toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(inboundDomain)) throw new ConfigError(`INBOUND_DOMAIN must be a domain name, got "${inboundDomain}"`);
  const supportAddress = optional(env, 'SUPPORT_ADDRESS') ?? `support@${inboundDomain}`;
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(supportAddress)) throw new ConfigError(`SUPPORT_ADDRESS is not an email address: "${supportAddress}"`);
  const inboundSecret = optional(env, 'INBOUND_EMAIL_SECRET');
  if (inboundSecret && inboundSecret.length < 16) throw new ConfigError('INBOUND_EMAIL_SECRET must be at least 16 characters long');
  const trustedAuthservId = optional(env, 'INBOUND_TRUSTED_AUTHSERV_ID')?.toLowerCase();
  if (trustedAuthservId && !/^[a-z0-9.-]+$/.test(trustedAuthservId)) {
    throw new ConfigError(`INBOUND_TRUSTED_AUTHSERV_ID must be the host name your MX puts in Authentication-Results (e.g. mx.example.com), got "${trustedAuthservId}"`);
  }
  const metricsToken = optional(env, 'METRICS_TOKEN');
  if (metricsToken && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
    throw new ConfigError('METRICS_TOKEN must be at least 16 characters long, without spaces (openssl rand -hex 24)');
  }
  const relay = optional(env, 'RELAY') ?? 'on';
  if (relay !== 'on' && relay !== 'off') throw new ConfigError('RELAY must be "on" or "off"');
  const encryptionKey = optional(env, 'SIDELINE_ENCRYPTION_KEY');
  if (encryptionKey) {
    const key = /^[0-9a-fA-F]{64}$/.test(encryptionKey) ? Buffer.from(encryptionKey, 'hex') : Buffer.from(encryptionKey, 'base64');
    if (key.length !== 32) throw new ConfigError('SIDELINE_ENCRYPTION_KEY must be 32 bytes: 64 hex characters or base64 (openssl rand -hex 32)');
  }
  let cors: CorsPolicy | null;
  try {
    cors = parseCorsOrigins(env['CORS_ORIGINS']);
  } catch (error) {
    throw new ConfigError(`CORS_ORIGINS: ${(error as Error).message}`);
  }
  const url = (name: string, fallback: string): string => {
    const value = optional(env, name) ?? fallback;
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new ConfigError(`${name} must be an http(s) URL, got "${value}"`);
    }
    return value;
  };
  const operatorToken = optional(env, 'SIDELINE_OPERATOR_TOKEN');
  if (operatorToken && (operatorToken.length < 32 || /\s/.test(operatorToken))) {
    throw new ConfigError('SIDELINE_OPERATOR_TOKEN must be at least 32 characters without spaces (openssl rand -hex 32)');
  }
  return {
    cors,
    metricsToken,
    operatorToken,
    encryptionKey,
    rateLimitPer10Minutes: integer(env, 'RATE_LIMIT_PER_10_MINUTES', 0, 0, 1_000_000),
    slackApiUrl: url('SLACK_API_URL', 'https://slack.com/api/'),
    teamsTokenUrl: url('TEAMS_TOKEN_URL', 'https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token'),
    teamsOpenIdMetadataUrl: url('TEAMS_OPENID_METADATA_URL', 'https://login.botframework.com/v1/.well-known/openidconfiguration'),
    teamsJwtIssuer: optional(env, 'TEAMS_JWT_ISSUER') ?? 'https://api.botframework.com',
    smtpUrl,
    supportAddress,
    inboundDomain,
    inboundSmtpPort: optional(env, 'INBOUND_SMTP_PORT') === undefined ? undefined : integer(env, 'INBOUND_SMTP_PORT', 2525, 0, 65535),
    inboundSmtpHost: optional(env, 'INBOUND_SMTP_HOST') ?? '127.0.0.1',
    inboundEmailSecret: inboundSecret,
    inboundTrustedAuthservId: trustedAuthservId,
    inboundMaxBytes: integer(env, 'INBOUND_MAX_BYTES', 30 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    inboundSmtpMaxClients: integer(env, 'INBOUND_SMTP_MAX_CLIENTS', 20, 1, 10_000),
    relayInServe: relay === 'on',
    relayPollMs: integer(env, 'RELAY_POLL_MS', 1000, 10, 600_000),
    relayLeaseMs: integer(env, 'RELAY_LEASE_MS', 300_000, 1_000, 24 * 3600_000),
    relayConcurrency: integer(env, 'RELAY_CONCURRENCY', DEFAULT_RELAY_CONCURRENCY, 1, 64),
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: optional(env, 'HOST') ?? '127.0.0.1',
    dataDir: optional(env, 'DATA_DIR') ?? './data',
    databaseUrl,
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', DEFAULT_POOL_SIZE, 1, 500),
    adminEmail,
    adminPassword: adminPassword === '' ? undefined : adminPassword,
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    logLevel,
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024),
    trustProxy: optional(env, 'TRUST_PROXY') === 'true',
    outboundAllowPrivate: flag(env, 'OUTBOUND_ALLOW_PRIVATE'),
    webhookAllowPrivate: flag(env, 'WEBHOOK_ALLOW_PRIVATE'),
    requestTimeoutMs: integer(env, 'REQUEST_TIMEOUT_MS', 60_000, 1_000, 3_600_000),
    maxConnectionsPerClient: integer(env, 'MAX_CONNECTIONS_PER_CLIENT', 128, 0, 1_000_000),
    maxConnections: integer(env, 'MAX_CONNECTIONS', 4_096, 0, 1_000_000),
    attachmentMaxBytes: integer(env, 'ATTACHMENT_MAX_BYTES', 25 * 1024 * 1024, 1, 1024 * 1024 * 1024),
    attachmentQuotaBytes: integer(env, 'ATTACHMENT_QUOTA_BYTES', 10 * 1024 * 1024 * 1024, 0, Number.MAX_SAFE_INTEGER),
    attachmentStore,
    consoleDir: join(packageDir(), 'console', 'dist'),
  };
}
