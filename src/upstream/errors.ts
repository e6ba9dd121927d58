/**
 * What can go wrong talking to 1C-Connect, one class per kind. Each carries what an operator needs
 * to act on it and never the credentials: messages are built from codes, statuses and upstream text.
 */

export type ConnectErrorKind = 'result' | 'out-of-limit' | 'fault' | 'auth' | 'unavailable' | 'protocol';

export abstract class ConnectError extends Error {
  abstract readonly kind: ConnectErrorKind;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
  toJSON(): Record<string, unknown> {
    return { name: this.name, kind: this.kind, message: this.message };
  }
}

/** ResultCode other than SUCCESS: the call reached the service and was refused. */
export class UpstreamResultError extends ConnectError {
  readonly kind: ConnectErrorKind = 'result';
  constructor(
    readonly resultCode: string,
    readonly resultText: string,
  ) {
    super(`1C-Connect answered ${resultCode}${resultText ? `: ${resultText}` : ''}`);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), resultCode: this.resultCode, resultText: this.resultText };
  }
}

/** `OUT_OF_LIMIT`: the login's hourly quota is spent; retrying before the hour passes does not help. */
export class UpstreamOutOfLimitError extends UpstreamResultError {
  override readonly kind: ConnectErrorKind = 'out-of-limit';
  constructor(resultText: string) {
    super('OUT_OF_LIMIT', resultText);
  }
}

export function resultError(code: string, text: string): UpstreamResultError {
  return code === 'OUT_OF_LIMIT' ? new UpstreamOutOfLimitError(text) : new UpstreamResultError(code, text);
}

/** A SOAP Fault (1.2 Code/Reason or 1.1 faultcode/faultstring), with whatever HTTP status it came with. */
export class SoapFaultError extends ConnectError {
  readonly kind = 'fault' as const;
  constructor(
    readonly faultCode: string,
    readonly faultReason: string,
    readonly httpStatus?: number,
  ) {
    super(`SOAP Fault ${faultCode}: ${faultReason}`);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), faultCode: this.faultCode, faultReason: this.faultReason, httpStatus: this.httpStatus };
  }
}

/** HTTP 401/403: the API login or password is wrong, or the API user lacks the right. */
export class UpstreamAuthError extends ConnectError {
  readonly kind = 'auth' as const;
  constructor(readonly httpStatus: number) {
    super(`1C-Connect refused the API credentials (HTTP ${httpStatus})`);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), httpStatus: this.httpStatus };
  }
}

export type UnavailableReason = 'http-status' | 'network' | 'timeout';

/** The service could not be reached or did not answer in time; nothing usable came back. */
export class UpstreamUnavailableError extends ConnectError {
  readonly kind = 'unavailable' as const;
  constructor(
    readonly reason: UnavailableReason,
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), reason: this.reason, httpStatus: this.httpStatus };
  }
}

/**
 * The body is not a well-formed, complete GetHistoryOfServiceCalls response, or one that cannot be
 * decoded. `truncated` and `complete` tell a consumer whether fetching it again could help.
 */
export class UpstreamProtocolError extends ConnectError {
  readonly kind = 'protocol' as const;
  constructor(
    message: string,
    /** Rows decoded before the problem: they must not be taken for a complete table. */
    readonly rowsDecoded = 0,
    /** The body ended early (a cut connection) rather than saying something wrong. */
    readonly truncated = false,
    /**
     * The whole response arrived (its SOAP envelope closed) and still cannot be used: a bad value,
     * a missing column, a row of the wrong length, a charset it is not in. Fetching it again would
     * bring the same. False for cut bodies, malformed XML and anything not known to be whole.
     */
    readonly complete = false,
  ) {
    super(message);
  }
  /** The same error, known to come from a complete response. */
  asComplete(): UpstreamProtocolError {
    return new UpstreamProtocolError(this.message, this.rowsDecoded, false, true);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), rowsDecoded: this.rowsDecoded, truncated: this.truncated, complete: this.complete };
  }
}

/**
 * A cell whose text is not a valid value of its type, or a value that cannot be served as it is
 * (a Duration past GraphQL Int, a CallTime outside the served range). Row numbers count from 1.
 */
export class ValueConversionError extends UpstreamProtocolError {
  constructor(
    readonly row: number,
    readonly column: string,
    readonly valueType: string,
    readonly text: string,
    /** What is wrong, e.g. `is outside 0..2147483647`; by default `is not a valid <valueType>`. */
    readonly reason = `is not a valid ${valueType}`,
    complete = false,
  ) {
    super(`row ${row}, column ${column}: ${JSON.stringify(text.slice(0, 80))} ${reason}`, row - 1, false, complete);
  }
  override asComplete(): ValueConversionError {
    return new ValueConversionError(this.row, this.column, this.valueType, this.text, this.reason, true);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), row: this.row, column: this.column, valueType: this.valueType };
  }
}

/** An error as plain fields, to cross a thread boundary (structured clone keeps no classes). */
export type ErrorFields = { name: string; message: string } & Record<string, unknown>;

export function errorFields(error: unknown): ErrorFields {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  return { ...(error as unknown as Record<string, unknown>), name: error.name, message: error.message };
}

const str = (value: unknown): string => (typeof value === 'string' ? value : '');
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/**
 * The error `errorFields` described, as its own class again, so the serving thread tells an
 * OUT_OF_LIMIT or an undecodable response from the rest exactly as if it had made the call itself.
 */
export function errorFromFields(fields: ErrorFields): Error {
  const f = fields;
  switch (f.name) {
    case 'UpstreamOutOfLimitError':
      return new UpstreamOutOfLimitError(str(f.resultText));
    case 'UpstreamResultError':
      return new UpstreamResultError(str(f.resultCode), str(f.resultText));
    case 'SoapFaultError':
      return new SoapFaultError(str(f.faultCode), str(f.faultReason), num(f.httpStatus));
    case 'UpstreamAuthError':
      return new UpstreamAuthError(num(f.httpStatus) ?? 401);
    case 'UpstreamUnavailableError':
      return new UpstreamUnavailableError(f.reason as UnavailableReason, f.message, num(f.httpStatus));
    case 'UpstreamProtocolError':
      return new UpstreamProtocolError(f.message, num(f.rowsDecoded) ?? 0, f.truncated === true, f.complete === true);
    case 'ValueConversionError':
      return new ValueConversionError(num(f.row) ?? 0, str(f.column), str(f.valueType), str(f.text), str(f.reason), f.complete === true);
    default: {
      // Another error (SqliteError from the store, a bug): its name, message and code, if any.
      const error = new Error(f.message) as Error & { code?: string };
      error.name = f.name;
      if (typeof f.code === 'string') error.code = f.code;
      return error;
    }
  }
}
