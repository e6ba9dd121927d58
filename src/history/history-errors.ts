/** No upstream call may be made now, and the history needed was never fetched. */
export class QuotaExhaustedError extends Error {
  constructor(
    readonly retryAfterSeconds: number,
    /** Set when the upstream itself refused (OUT_OF_LIMIT): someone else spends the same login's quota. */
    readonly upstreamCode?: string,
  ) {
    super(
      upstreamCode
        ? `1C-Connect refused the call with ${upstreamCode}; calls resume in ${retryAfterSeconds} s`
        : `the hourly quota of upstream calls is spent; the next call is allowed in ${retryAfterSeconds} s`,
    );
    this.name = 'QuotaExhaustedError';
  }
}
