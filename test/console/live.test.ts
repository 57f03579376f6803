/**
 * The console's keyboard and live behaviour in a real browser against a real Sideline process:
 * `?`, `c`, `r` and Esc; Insert ticket comment; an attachment over the size limit; the banner when
 * the open ticket changes under the agent; a toast for another ticket's news; unread counts in the
 * Tickets view and read markers kept on the server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { basic, STORE_KIND } from '../helpers/app.js';
import { png } from '../helpers/png.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, browserSkipReason, seriousViolations, signIn, startConsoleWorld, type ConsoleWorld } from './harness.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

/** Small, so a test file can be over it. */
const ATTACHMENT_MAX_BYTES = 64 * 1024;
/** How long a live change may take before the page is called stuck: a deadline, not a speed claim (that is `npm run bench`'s). */
const LIVE_DEADLINE_MS = 20_000;
const COLLEAGUE = { name: 'Casey Colleague', email: 'casey@helpdesk.test', password: 'casey-password-1' };

interface TicketBody {
  ticket: { id: number; subject: string; status: string };
}
interface ScBody {
  side_conversation: { id: string; subject: string };
}

describe(`the console's shortcuts and live updates in Chromium (${STORE_KIND})`, { skip }, () => {
  let world: ConsoleWorld;
  let page: Page;
  let ticketA: number;
  let ticketB: number;

  /** A write by another agent (their own Basic credentials), as the page's agent did not make it. */
  const asColleague = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${world.baseUrl}${path}`, {
      method,
      headers: { authorization: basic(COLLEAGUE.email, COLLEAGUE.password), accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  const focused = (selector: string) => page.locator(`${selector}:focus`);

  before(async () => {
    world = await startConsoleWorld({ env: { ATTACHMENT_MAX_BYTES: String(ATTACHMENT_MAX_BYTES) } });
    page = await world.context.newPage();
    const colleague = await world.apiCall('POST', '/api/v2/users', { user: { ...COLLEAGUE, role: 'agent' } });
    assert.equal(colleague.status, 201);
    const a = await world.apiCall<TicketBody>('POST', '/api/v2/tickets', { ticket: { subject: 'Scanner offline', comment: { body: 'The scanner on floor 2 shows no network.' } } });
    const b = await world.apiCall<TicketBody>('POST', '/api/v2/tickets', { ticket: { subject: 'Badge reader', comment: { body: 'Badge reader beeps twice.' } } });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    ticketA = a.body.ticket.id;
    ticketB = b.body.ticket.id;
    const sc = await world.apiCall<ScBody>('POST', `/api/v2/tickets/${ticketA}/side_conversations`, {
      message: { subject: 'Scanner vendor', body: 'Is firmware 2.1 out?', to: [{ email: 'vendor@example.com' }] },
    });
    assert.equal(sc.status, 201);
  });
  after(async () => {
    await world?.close();
  });

  it('? shows the shortcuts, c opens New side conversation, r the reply box, Esc closes each', async () => {
    await signIn(page, world.baseUrl, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForURL(/\/agent\/tickets$/);
    await page.goto(`${world.baseUrl}/agent/tickets/${ticketA}`);
    await page.getByRole('heading', { name: 'Side conversations' }).waitFor();
    await page.getByRole('list', { name: 'Side conversation list' }).getByRole('button', { name: /Scanner vendor/ }).waitFor();

    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    for (const key of ['j / k', 'Enter', 'c', 'r', 'Esc', '?']) await help.getByText(key, { exact: true }).waitFor();
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });

    await page.keyboard.press('c');
    const form = page.getByRole('form', { name: 'New side conversation' });
    await form.waitFor();
    await focused('select').waitFor(); // the Type choice has the focus
    assert.equal(await page.getByLabel('Type').inputValue(), 'email');
    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'detached' });
    // Esc closes it with the focus outside it too.
    await page.keyboard.press('c');
    await form.waitFor();
    await page.getByRole('heading', { name: 'Scanner offline' }).click();
    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'detached' });

    await page.getByRole('list', { name: 'Side conversation list' }).getByRole('button', { name: /Scanner vendor/ }).click();
    await page.getByRole('list', { name: 'Thread' }).getByText('Is firmware 2.1 out?').waitFor();
    await page.keyboard.press('r');
    const reply = page.getByRole('textbox', { name: 'Reply' });
    await reply.waitFor();
    await focused('textarea').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('form', { name: 'Reply' }).waitFor({ state: 'detached' });
    assert.deepEqual(await seriousViolations(page), [], 'no serious or critical axe violation on the open thread');
  });

  it('Insert ticket comment quotes a comment of the ticket into the reply', async () => {
    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    const reply = page.getByRole('textbox', { name: 'Reply' });
    await reply.fill('See below.');
    const insert = page.getByLabel('Insert ticket comment');
    const choice = insert.locator('option', { hasText: 'The scanner on floor 2 shows no network.' });
    await choice.waitFor({ state: 'attached' });
    await insert.selectOption({ value: (await choice.getAttribute('value'))! });
    assert.equal(await reply.inputValue(), 'See below.\n\n> The scanner on floor 2 shows no network.\n\n');
    assert.equal(await insert.inputValue(), '', 'the choice resets, ready for another');
  });

  it('an attachment over the size limit says so on the file, and the reply waits for it to be removed', async () => {
    await page.locator('input[type="file"]').setInputFiles({ name: 'scan-log.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(ATTACHMENT_MAX_BYTES * 3, 7) });
    const error = page.getByRole('alert').filter({ hasText: 'scan-log.bin' });
    await error.waitFor();
    assert.match((await error.textContent())!, /scan-log\.bin: Too large \(192\.0 KB\): attachments are limited to 64\.0 KB\./);
    await page.getByRole('button', { name: 'Send reply' }).click();
    await page.getByRole('alert').filter({ hasText: 'Remove the files that failed to upload.' }).waitFor();
    await page.getByRole('button', { name: 'Remove scan-log.bin' }).click();
    await page.getByRole('button', { name: 'Send reply' }).click();
    await page.getByRole('list', { name: 'Thread' }).getByText('See below.').waitFor();
  });

  it('a banner says when the open ticket changed under the agent, and the page shows the change', async () => {
    assert.equal(await page.getByText('This ticket was updated').count(), 0);
    // new → open: the ticket stays under the Tickets view's Open filter for the last test.
    const changed = await asColleague<TicketBody>('PUT', `/api/v2/tickets/${ticketA}`, { ticket: { status: 'open', comment: { body: 'Colleague: waiting on the vendor.' } } });
    assert.equal(changed.status, 200);
    const banner = page.getByRole('status').filter({ hasText: 'This ticket was updated' });
    await banner.waitFor({ timeout: LIVE_DEADLINE_MS });
    await page.getByRole('list', { name: 'Comments' }).getByText('Colleague: waiting on the vendor.').waitFor({ timeout: LIVE_DEADLINE_MS });
    assert.equal(await page.getByLabel('Status').inputValue(), 'open');
    await banner.getByRole('button', { name: 'Dismiss' }).click();
    await banner.waitFor({ state: 'detached' });
  });

  it("a toast tells of another ticket's news, and opens that ticket", async () => {
    const news = await asColleague<ScBody>('POST', `/api/v2/tickets/${ticketB}/side_conversations`, {
      message: { subject: 'Badge vendor', body: 'Which reader model is it?', to: [{ email: 'badges@example.com' }] },
    });
    assert.equal(news.status, 201);
    const open = page.getByRole('button', { name: `Open ticket #${ticketB}` });
    await open.waitFor({ timeout: LIVE_DEADLINE_MS });
    await open.click();
    await page.waitForURL(new RegExp(`/agent/tickets/${ticketB}$`));
    await page.getByRole('heading', { name: 'Badge reader' }).waitFor();
  });

  it('unread counts show in the Tickets view and the panel; reading a thread clears them on the server, for every device', async () => {
    // The colleague's new side conversation on B is unread for the admin until they open it.
    const item = page.getByRole('list', { name: 'Side conversation list' }).getByRole('button', { name: 'Badge vendor, 1 unread' });
    await item.waitFor();
    await page.getByRole('link', { name: 'Tickets', exact: true }).first().click();
    const row = page.getByRole('table', { name: 'Tickets' }).getByRole('row').filter({ hasText: 'Badge reader' });
    await row.getByLabel('1 unread').waitFor();

    // A reply by the colleague on A's conversation: A's row counts it, live.
    const list = await world.apiCall<{ side_conversations: Array<{ id: string }> }>('GET', `/api/v2/tickets/${ticketA}/side_conversations`);
    const scA = list.body.side_conversations[0]!.id;
    const replied = await asColleague('POST', `/api/v2/tickets/${ticketA}/side_conversations/${scA}/reply`, { message: { body: 'Colleague: firmware 2.1 is out.' } });
    assert.equal(replied.status, 200);
    const rowA = page.getByRole('table', { name: 'Tickets' }).getByRole('row').filter({ hasText: 'Scanner offline' });
    await rowA.getByLabel('1 unread').waitFor({ timeout: LIVE_DEADLINE_MS });

    // Reading B's conversation here marks it read on the server: another device (the API) agrees.
    await row.getByRole('link').click();
    await page.getByRole('list', { name: 'Side conversation list' }).getByRole('button', { name: 'Badge vendor, 1 unread' }).click();
    await page.getByRole('list', { name: 'Thread' }).getByText('Which reader model is it?').waitFor();
    let unread = -1;
    for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      const markers = await world.apiCall<{ read_markers: Array<{ unread_count: number; last_read_at: string | null }> }>('GET', `/api/v2/sideline/tickets/${ticketB}/read_markers`);
      unread = markers.body.read_markers[0]!.unread_count;
      if (unread === 0) break;
    }
    assert.equal(unread, 0, 'the read marker is kept on the server');
    await page.getByRole('link', { name: 'Tickets', exact: true }).first().click();
    await row.waitFor();
    await rowA.getByLabel('1 unread').waitFor();
    await row.getByLabel(/unread/).waitFor({ state: 'detached' }); // B is read
    assert.equal(await row.getByLabel(/unread/).count(), 0, 'B is read');
  });

  it('To takes a user from autocomplete and a free address; a dropped image shows as a thumbnail; each recipient gets its own delivery status, a refused one with the reason', async () => {
    world.sink.rejectRecipient('nobody@example.com', 550, '5.1.1 No such user here');
    await page.goto(`${world.baseUrl}/agent/tickets/${ticketB}`);
    await page.getByRole('button', { name: 'New side conversation' }).click();
    const to = page.getByRole('combobox', { name: 'To' });
    await to.fill('Casey');
    await page.getByRole('listbox', { name: 'Suggested recipients' }).getByRole('option', { name: /Casey Colleague/ }).waitFor();
    await to.press('ArrowDown');
    await to.press('Enter');
    const recipients = page.getByRole('list', { name: 'Recipients' });
    await recipients.getByText(`${COLLEAGUE.name} <${COLLEAGUE.email}>`).waitFor();
    await to.fill('nobody@example.com');
    await to.press('Enter');
    await recipients.getByText('nobody@example.com', { exact: true }).waitFor();
    await page.getByLabel('Subject').fill('Photo of the reader');
    await page.getByLabel('Message').fill('Here is the **reader**.');

    // Dropped onto the drop zone, as a file dragged from the desktop.
    const dataTransfer = await page.evaluateHandle(`(() => {
      const bytes = Uint8Array.from(atob(${JSON.stringify(png().toString('base64'))}), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'reader.png', { type: 'image/png' }));
      return transfer;
    })()`);
    await page.getByText('or drop files here').dispatchEvent('drop', { dataTransfer });
    await page.getByText('reader.png (').getByText(/uploaded/).waitFor();
    await page.getByRole('button', { name: 'Send', exact: true }).click();

    const message = page.getByRole('list', { name: 'Thread' }).getByRole('listitem', { name: /^Message from / }).filter({ hasText: 'Here is the' });
    await message.locator('strong', { hasText: 'reader' }).waitFor(); // **bold** became <strong>
    const thumb = message.getByRole('img', { name: 'reader.png' });
    await thumb.scrollIntoViewIfNeeded();
    let width = 0;
    for (const until = Date.now() + 30_000; Date.now() < until && width === 0; await new Promise((r) => setTimeout(r, 200))) {
      width = (await page.evaluate(`document.querySelector('img[alt="reader.png"]').naturalWidth`)) as number;
    }
    assert.equal(width, 1, 'the thumbnail loaded (the CSP lets same-origin images in)');
    await message.getByRole('link', { name: 'reader.png' }).waitFor();

    const deliveries = message.getByRole('list', { name: 'Delivery' });
    await deliveries.getByRole('listitem').filter({ hasText: COLLEAGUE.email }).locator('[data-delivery-status="sent"]').waitFor({ timeout: 45_000 });
    const refused = deliveries.getByRole('listitem').filter({ hasText: 'nobody@example.com' });
    await refused.locator('[data-delivery-status="failed"]').waitFor({ timeout: 45_000 });
    assert.match((await refused.textContent())!, /No such user here/, 'the reason is shown');
    world.sink.clearRejections();
  });
});
