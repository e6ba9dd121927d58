import type { CallResult } from '../domain/service-call.js';

/**
 * A copy of a string that shares no memory with the text it was cut from: a decoded value would
 * otherwise keep its whole response chunk alive, and a held week every chunk it came in. Slicing a
 * fresh concatenation flattens it into a string of its own (V8 slices only strings of 13 or more).
 */
export function detach(text: string): string {
  return text.length < 13 ? text : ` ${text}`.slice(1);
}

/** CallResult as the stores keep it: 1 successful, 2 unsuccessful. */
export function callResultCode(result: CallResult): 1 | 2 {
  if (result === 'SUCCESSFUL') return 1;
  if (result === 'UNSUCCESSFUL') return 2;
  throw new TypeError(`callResult must be SUCCESSFUL or UNSUCCESSFUL, got ${String(result)}`);
}
