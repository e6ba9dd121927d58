import { GraphQLError } from 'graphql';
import { isStoreError, QuotaExhaustedError, StoreUnavailableError, UndecodableHistoryError } from '../history/history-errors.js';
import { QuotaJournalError } from '../history/quota-journal.js';
import {
  SoapFaultError,
  UpstreamAuthError,
  UpstreamProtocolError,
  UpstreamResultError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';

/** The error codes of the contract (extensions.code). */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'QUOTA_EXHAUSTED'
  | 'UPSTREAM_ERROR'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_AUTH_FAILED'
  | 'STORE_UNAVAILABLE';

export function badUserInput(argument: string, message: string): GraphQLError {
  return new GraphQLError(`${argument}: ${message}`, { extensions: { code: 'BAD_USER_INPUT', argument } });
}

/**
 * A history or upstream failure as the client sees it. Messages carry codes and upstream texts, never
 * credentials; anything unexpected is returned as is and masked by the server.
 */
export function toGraphQLError(error: unknown): unknown {
  if (error instanceof GraphQLError) return error;
  if (error instanceof QuotaExhaustedError) {
    return new GraphQLError(error.message, {
      extensions: {
        code: 'QUOTA_EXHAUSTED',
        // HOURLY_LIMIT, OUT_OF_LIMIT, MAX_CALLS_PER_REQUEST or API_KEY_SHARE: which rule refused.
        rule: error.rule,
        retryAfterSeconds: error.retryAfterSeconds,
        callsNeeded: error.callsNeeded,
        // DAY or NIGHT: the hourly limit the calls fit in at the retry time; null: none (fewer days).
        fitsIn: error.fitsIn,
        ...(error.upstreamCode ? { upstreamCode: error.upstreamCode } : {}),
      },
    });
  }
  if (error instanceof UndecodableHistoryError) {
    return new GraphQLError(error.message, {
      extensions: {
        code: 'UPSTREAM_ERROR',
        retryAfterSeconds: error.retryAfterSeconds,
        ...(error.failure.row !== null ? { row: error.failure.row } : {}),
        ...(error.failure.column !== null ? { column: error.failure.column } : {}),
      },
    });
  }
  if (error instanceof StoreUnavailableError) {
    return new GraphQLError(error.message, {
      extensions: { code: 'STORE_UNAVAILABLE', retryAfterSeconds: error.retryAfterSeconds, ...(error.storeCode ? { storeCode: error.storeCode } : {}) },
    });
  }
  if (error instanceof QuotaJournalError || isStoreError(error)) {
    // The disk under DATA_DIR failed (full, I/O error, locked, damaged) reading held history or
    // recording a call (then none is made). The SQLite code says which; file paths are not in the message.
    const code = (error as { code?: unknown }).code;
    return new GraphQLError(`the server's history store is unavailable${typeof code === 'string' ? ` (${code})` : ''}; retry later`, {
      extensions: { code: 'STORE_UNAVAILABLE', ...(typeof code === 'string' ? { storeCode: code } : {}) },
    });
  }
  if (error instanceof UpstreamAuthError) {
    return new GraphQLError('1C-Connect refused the configured API credentials', {
      extensions: { code: 'UPSTREAM_AUTH_FAILED' },
    });
  }
  if (error instanceof UpstreamResultError) {
    return new GraphQLError(error.message, { extensions: { code: 'UPSTREAM_ERROR', upstreamCode: error.resultCode } });
  }
  if (error instanceof SoapFaultError) {
    return new GraphQLError(error.message, { extensions: { code: 'UPSTREAM_ERROR', upstreamCode: error.faultCode } });
  }
  if (error instanceof UpstreamUnavailableError) {
    return new GraphQLError(`1C-Connect is unavailable: ${error.message}`, { extensions: { code: 'UPSTREAM_UNAVAILABLE' } });
  }
  if (error instanceof UpstreamProtocolError) {
    // A cut body is a broken connection; anything else is a response we cannot read.
    return error.truncated
      ? new GraphQLError(`1C-Connect is unavailable: ${error.message}`, { extensions: { code: 'UPSTREAM_UNAVAILABLE' } })
      : new GraphQLError(`1C-Connect sent a response that cannot be read: ${error.message}`, {
          // No upstreamCode: the upstream said nothing we could read.
          extensions: { code: 'UPSTREAM_ERROR' },
        });
  }
  return error;
}
