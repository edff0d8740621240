"use strict";
/** The one response every raw http peer sends, and the request-end counter they share. */

/** Fixed keep-alive response with the 13-byte body "Hello, World!" (same bytes as the C reference). */
const RESPONSE = Buffer.from(
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!",
  "latin1",
);

/** The body every http peer answers with. */
const BODY = "Hello, World!";

/**
 * Counts "\r\n\r\n" in `chunk`, continuing a match the previous chunk ended inside
 * (`state.match` is how many of the four bytes were already seen).
 */
function countRequestEnds(state, chunk) {
  let m = state.match;
  let count = 0;
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i];
    if (c === (m & 1 ? 10 : 13)) {
      if (++m === 4) {
        count++;
        m = 0;
      }
    } else {
      m = c === 13 ? 1 : 0;
    }
  }
  state.match = m;
  return count;
}

module.exports = { RESPONSE, BODY, countRequestEnds };
