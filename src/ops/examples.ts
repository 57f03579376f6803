/** Response examples of the health endpoints, for the reference page at /api/v2/docs. */
export const opsExamples = {
  healthy: { status: 'ok' },
  unavailable: { status: 'unavailable', reason: 'store unreachable' },
};
