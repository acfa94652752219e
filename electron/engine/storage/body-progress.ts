/**
 * Progress of one body sent more than once (an S3 PutObject or part, an Azure Put Blob or block
 * that the SDK may retry; a whole put that RetryBackend retries): the owner of what
 * `PutOptions.onProgress` reports while such a body is on its way.
 *
 * Contract: `sent(n)` takes the bytes of the body the current attempt has sent so far (counted
 * from 0 again by each attempt); it reports, as a delta, only what goes past the most any attempt
 * reached, so a retried body is never counted twice and a report never runs ahead of what one
 * attempt sent. `acknowledged()` reports the rest when the server answered. The deltas of one
 * body sum to its size at most (exactly, once acknowledged). Bytes handed to the connection may
 * still sit in the kernel's send buffer: a report runs ahead of the wire by at most that buffer.
 * A put that fails for good was reported in part (PackWriter caps a pack at its size).
 * `countedSlices(buf, sent)` is `buf` as a stream of SLICE-byte pieces that calls `sent` with the
 * bytes handed on so far, as its consumer (the HTTP request it is piped into) takes each piece.
 */
import { Readable } from 'node:stream';

/** Bytes per piece of a request body handed to the socket (and per progress report). */
export const SLICE = 64 * 1024;

export class BodyProgress {
  private reported = 0;

  constructor(
    private readonly size: number,
    private readonly report: ((bytes: number) => void) | undefined,
  ) {}

  /** The current attempt has handed `bytes` of the body to the connection. */
  sent(bytes: number): void {
    const n = Math.min(bytes, this.size) - this.reported;
    if (n <= 0) return;
    this.reported += n;
    this.report?.(n);
  }

  /** The server acknowledged the whole body. */
  acknowledged(): void {
    this.sent(this.size);
  }
}

/**
 * `buf` as a byte stream of SLICE-byte pieces; `sent` gets the running total as each piece is
 * taken. Nothing is read ahead (no buffer of its own): a piece is made when the consumer asks,
 * which a pipe does only while its destination accepts more.
 */
export function countedSlices(buf: Buffer, sent?: (bytesSoFar: number) => void): Readable {
  let off = 0;
  return new Readable({
    highWaterMark: 0,
    read() {
      if (off >= buf.length) {
        this.push(null);
        return;
      }
      const piece = buf.subarray(off, off + SLICE);
      off += piece.length;
      sent?.(off);
      this.push(piece);
    },
  });
}
