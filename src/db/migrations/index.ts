import type { Migration } from 'kysely';
import * as initial from './0001_initial.js';
import * as attachments from './0002_attachments.js';
import * as email from './0003_email.js';
import * as integrations from './0004_integrations.js';
import * as people from './0005_people.js';
import * as hostile from './0006_hostile.js';
import * as eventFeed from './0007_event_feed.js';
import * as consoleSessions from './0008_console.js';
import * as webhooks from './0009_webhooks.js';
import * as imports from './0010_imports.js';

/** Every migration, in order. One set of files serves both stores. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_attachments': attachments,
  '0003_email': email,
  '0004_integrations': integrations,
  '0005_people': people,
  '0006_hostile': hostile,
  '0007_event_feed': eventFeed,
  '0008_console': consoleSessions,
  '0009_webhooks': webhooks,
  '0010_imports': imports,
};
