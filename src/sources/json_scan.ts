/**
 * A byte-exact JSON scanner: each event's bytes as the API sent them, without re-serialising.
 *
 * @module
 */

import { UTF8 } from "../bytes.ts";

/**
 * The exact bytes of each element of the JSON array at `from`, as the service sent them (members, order,
 * escapes, `null`s): the archive keeps events byte for byte, as views into the response body; and where the
 * array ends. JSON's structural characters are ASCII and no byte of a multi-byte UTF-8 character is, so the
 * bytes are scanned like text. Throws a SyntaxError where the array is cut short or not separated as JSON
 * separates elements; what lies inside an element is left to JSON.parse. Pure.
 */
export function rawElements(
  sent: Uint8Array,
  from = skipSpace(sent, 0),
): { elements: Uint8Array[]; end: number } {
  if (sent[from] !== OPEN_BRACKET) throw new SyntaxError("not an array");
  const elements: Uint8Array[] = [];
  let i = skipSpace(sent, from + 1);
  if (sent[i] === CLOSE_BRACKET) return { elements, end: i + 1 };
  for (;;) {
    const end = valueEnd(sent, i);
    elements.push(sent.subarray(i, end));
    i = skipSpace(sent, end);
    if (sent[i] === CLOSE_BRACKET) return { elements, end: i + 1 };
    if (sent[i] !== COMMA) throw new SyntaxError(`no comma between array elements at byte ${i}`);
    i = skipSpace(sent, i + 1);
  }
}

/** Where the value of member `name` of the top-level JSON object starts, or -1. Pure. */
export function rawMemberStart(sent: Uint8Array, name: string): number {
  let i = skipSpace(sent, skipSpace(sent, 0) + 1);
  while (sent[i] === QUOTE) {
    const keyEnd = valueEnd(sent, i);
    const valueStart = skipSpace(sent, skipSpace(sent, keyEnd) + 1);
    if (JSON.parse(UTF8.decode(sent.subarray(i, keyEnd))) === name) return valueStart;
    i = skipSpace(sent, valueEnd(sent, valueStart));
    if (sent[i] === COMMA) i = skipSpace(sent, i + 1);
  }
  return -1;
}

const QUOTE = 34, BACKSLASH = 92, COMMA = 44;

const OPEN_BRACE = 123, CLOSE_BRACE = 125, OPEN_BRACKET = 91, CLOSE_BRACKET = 93;

const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

/** The first byte at or after `i` that is not JSON whitespace (nor, at the start, a UTF-8 byte order mark). */
export const skipSpace = (sent: Uint8Array, i: number) => {
  if (i === 0 && BYTE_ORDER_MARK.every((byte, k) => sent[k] === byte)) i = BYTE_ORDER_MARK.length;
  while (isSpace(sent[i])) i++;
  return i;
};

/** The end (exclusive) of the JSON string that starts at `i`: the next quote not escaped by a backslash. */
function stringEnd(sent: Uint8Array, i: number): number {
  for (let quote = sent.indexOf(QUOTE, i + 1);; quote = sent.indexOf(QUOTE, quote + 1)) {
    if (quote === -1) throw new SyntaxError("unterminated string");
    let backslashes = 0;
    while (sent[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
  }
}

/** The end (exclusive) of the JSON value that starts at `i` of `sent`; throws where it is cut short. */
function valueEnd(sent: Uint8Array, i: number): number {
  const first = sent[i];
  if (first === QUOTE) return stringEnd(sent, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    for (let depth = 0;; i++) {
      if (i >= sent.length) throw new SyntaxError("unterminated object or array");
      const c = sent[i];
      if (c === QUOTE) i = stringEnd(sent, i) - 1;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1;
    }
  }
  for (let c = sent[i]; i < sent.length; c = sent[++i]) {
    if (isSpace(c) || c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET) break;
  }
  return i;
}

/**
 * The first member name that appears twice in one object of the JSON value `sent`, at any depth, or
 * undefined. JSON.parse keeps the last of such members and a scan of the bytes may find the first, so a page
 * that has any is refused: what is checked and what is stored could differ. Names are compared as JSON.parse
 * reads them (`"\u0069d"` is `"id"`). Expects JSON that JSON.parse accepts. Pure.
 */
export function duplicateKey(sent: Uint8Array): string | undefined {
  // Per open object or array: the names seen so far (an object), or null (an array).
  const open: (Set<string> | null)[] = [];
  let expectName = false;
  for (let i = 0; i < sent.length; i++) {
    const c = sent[i];
    if (c === QUOTE) {
      const end = stringEnd(sent, i);
      const names = open.at(-1);
      if (expectName && names) {
        const raw = sent.subarray(i, end);
        const name = raw.includes(BACKSLASH)
          ? JSON.parse(UTF8.decode(raw)) as string
          : UTF8.decode(raw.subarray(1, -1));
        if (names.has(name)) return name;
        names.add(name);
        expectName = false;
      }
      i = end - 1;
    } else if (c === OPEN_BRACE) {
      open.push(new Set());
      expectName = true;
    } else if (c === OPEN_BRACKET) {
      open.push(null);
      expectName = false;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      open.pop();
      expectName = false;
    } else if (c === COMMA) expectName = open.at(-1) instanceof Set;
  }
  return undefined;
}

const CR = 13, LF = 10;

/**
 * An event's bytes as one NDJSON line: the same bytes when they hold no line break, else the same JSON with
 * the whitespace between its tokens removed (a pretty-printed page). A JSON string cannot hold a raw CR or LF,
 * so every line break is such whitespace, and the line parses to the same value as the event. Pure.
 */
export function oneLine(element: Uint8Array): Uint8Array {
  if (!element.includes(LF) && !element.includes(CR)) return element;
  const line = new Uint8Array(element.length);
  let length = 0;
  for (let i = 0; i < element.length; i++) {
    const c = element[i];
    if (c === QUOTE) {
      const end = stringEnd(element, i);
      line.set(element.subarray(i, end), length);
      length += end - i;
      i = end - 1;
    } else if (!isSpace(c)) line[length++] = c;
  }
  return line.subarray(0, length);
}
