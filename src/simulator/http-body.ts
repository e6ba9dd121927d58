/** Reading request bodies and streaming response bodies for the simulator's node:http server. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** The whole request body as UTF-8; rejects with BodyTooLargeError past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume(); // drain the rest so the 413 can be sent
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Resolves when the response can take more data, or has closed (then `false`). */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (open: boolean) => (): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(open);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Where to cut the body: after `afterBytes` bytes, then `end` the response or `hang` with it open
 * (a `hang` hangs even when the body is shorter than `afterBytes`).
 */
export interface BodyCut {
  afterBytes: number;
  then: 'end' | 'hang';
}

const utf8 = (piece: string): Buffer => Buffer.from(piece, 'utf8');

/**
 * Streams `pieces` with backpressure (a full socket buffer waits for 'drain'), stopping quietly if
 * the client goes away. With `cut`, only the first `afterBytes` bytes (as encoded) are sent.
 * `encode` turns each piece into bytes (default UTF-8).
 */
export async function sendPieces(
  res: ServerResponse,
  pieces: Iterable<string>,
  cut?: BodyCut,
  encode: (piece: string) => Buffer = utf8,
): Promise<void> {
  let sent = 0;
  for (const piece of pieces) {
    if (res.destroyed) return;
    let bytes = encode(piece);
    const cutHere = cut !== undefined && sent + bytes.length >= cut.afterBytes;
    if (cutHere) bytes = bytes.subarray(0, cut.afterBytes - sent);
    sent += bytes.length;
    const flowing = bytes.length === 0 ? true : res.write(bytes);
    if (cutHere) break;
    if (!flowing && !(await drained(res))) return;
  }
  if (cut?.then === 'hang') {
    res.flushHeaders(); // the client sees a 200 and the bytes sent so far, then nothing
    return;
  }
  res.end();
}
