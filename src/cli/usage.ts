/** The usage lines of the commands in their own modules: here, so `sideline --help` loads none of them. */
export const RESET_PASSWORD_USAGE = `reset-password --email EMAIL [--password PASSWORD] [--subdomain SUBDOMAIN]
                                 set a user's password (a new one is printed once unless given);
                                 their cached credentials and sessions are revoked`;

export const CREATE_ACCOUNT_USAGE = `create-account --subdomain SUBDOMAIN --admin-email EMAIL [--name NAME]
                                 a new account and its admin; prints the admin's password once`;

export const IMPORT_FROM_USAGE = `import-from URL --email EMAIL --token TOKEN [--dry-run] [--subdomain SUBDOMAIN]
                                 bring users, groups, tickets and side conversations over from a
                                 Zendesk API (Zendesk, or another Sideline); resumable; the token may
                                 also come from SIDELINE_IMPORT_TOKEN`;
