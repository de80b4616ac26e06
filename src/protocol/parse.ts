// Shared by every parser on the data path: the three outcomes of one parse step.
//
// Parsers are resumable byte state machines. They are called as parse(buf, start) where the
// request (or reply) under construction begins at `start`. On AGAIN the caller keeps the bytes
// from `start` onwards and calls again with a buffer that holds those same bytes followed by
// more (possibly a new Buffer object, with the partial message now at a different offset).
// The parser keeps its state relative to the message start, so nothing is re-scanned.

/** A whole message was parsed; its fields are on the parser until the next call. */
export const OK = 0;
/** More bytes are needed; `need` on the parser tells how many bytes from the message start, at least. */
export const AGAIN = 1;
/** The bytes are not valid protocol; `errorText` says why. The stream cannot be resynchronised. */
export const ERROR = 2;

export type ParseStatus = typeof OK | typeof AGAIN | typeof ERROR;
