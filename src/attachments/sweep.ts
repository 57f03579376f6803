import { UNBOUND_UPLOAD_MAX_AGE_MS, type AttachmentsService } from './service.js';

export interface SweepLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The timer in `serve` that deletes uploads no message took within 24 hours. A failing sweep is
 * logged and tried again at the next tick; it never stops the server.
 */
export function startUploadSweeper(attachments: AttachmentsService, logger: SweepLogger, intervalMs = 3600_000): { stop(): void } {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      const cutoff = new Date(Date.now() - UNBOUND_UPLOAD_MAX_AGE_MS);
      let total = 0;
      for (;;) {
        const deleted = await attachments.sweepUnbound(cutoff);
        total += deleted;
        if (deleted === 0) break;
      }
      if (total > 0) logger.info({ deleted: total }, 'swept unbound uploads older than 24 h');
    } catch (error) {
      logger.warn({ err: error }, 'sweeping unbound uploads failed; trying again later');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void sweep(), intervalMs);
  timer.unref();
  void sweep();
  return { stop: () => clearInterval(timer) };
}
