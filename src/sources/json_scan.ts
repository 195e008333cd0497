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
 * separates elements; what lies inside an element is left to JSON.parse. Counts into `tally` what
 * `valueEnd` counts. Pure.
 */
export function rawElements(
  sent: Uint8Array,
  from = skipSpace(sent, 0),
  tally?: Tally,
): { elements: Uint8Array[]; end: number } {
  if (sent[from] !== OPEN_BRACKET) throw new SyntaxError("not an array");
  const elements: Uint8Array[] = [];
  let i = skipSpace(sent, from + 1);
  if (sent[i] === CLOSE_BRACKET) return { elements, end: i + 1 };
  for (;;) {
    const end = valueEnd(sent, i, tally);
    elements.push(sent.subarray(i, end));
    i = skipSpace(sent, end);
    if (sent[i] === CLOSE_BRACKET) return { elements, end: i + 1 };
    if (sent[i] !== COMMA) throw new SyntaxError(`no comma between array elements at byte ${i}`);
    i = skipSpace(sent, i + 1);
  }
}

const QUOTE = 34, BACKSLASH = 92, COMMA = 44, COLON = 58, CR = 13, LF = 10;

const OPEN_BRACE = 123, CLOSE_BRACE = 125, OPEN_BRACKET = 91, CLOSE_BRACKET = 93;

const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

/** The first byte at or after `i` that is not JSON whitespace (nor, at the start, a UTF-8 byte order mark). */
export const skipSpace = (sent: Uint8Array, i: number) => {
  if (i === 0 && BYTE_ORDER_MARK.every((byte, k) => sent[k] === byte)) i = BYTE_ORDER_MARK.length;
  while (isSpace(sent[i])) i++;
  return i;
};

/**
 * The end (exclusive) of the JSON string that starts at `i`: the next quote not escaped by a backslash. A loop
 * over the bytes, not `indexOf`: most strings of an event are short, and a call per quote cost more than the
 * bytes it skipped.
 */
function stringEnd(sent: Uint8Array, i: number): number {
  for (i++; i < sent.length; i++) {
    const c = sent[i];
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) i++;
  }
  throw new SyntaxError("unterminated string");
}

/** What a walk over JSON bytes counted outside strings: members (their colons) and raw line breaks. */
interface Tally {
  members: number;
  lineBreaks: number;
}

/**
 * The end (exclusive) of the JSON value that starts at `i` of `sent`; throws where it is cut short. Counts
 * into `tally` the members of its objects and the line breaks between its tokens.
 */
function valueEnd(sent: Uint8Array, i: number, tally: Tally = { members: 0, lineBreaks: 0 }): number {
  const first = sent[i];
  if (first === QUOTE) return stringEnd(sent, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    for (let depth = 0; i < sent.length; i++) {
      const c = sent[i];
      if (c === QUOTE) i = stringEnd(sent, i) - 1;
      else if (c === COLON) tally.members++;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1;
      else if (c === LF || c === CR) tally.lineBreaks++;
    }
    throw new SyntaxError("unterminated object or array");
  }
  for (let c = sent[i]; i < sent.length; c = sent[++i]) {
    if (isSpace(c) || c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET) break;
  }
  return i;
}

/**
 * The elements of the array that member `name` of the JSON object `sent` holds, as `rawElements` finds them
 * and each on one line (`oneLine`), in one walk over every byte of `sent`; `twice`, a member name some object
 * names twice (as `duplicateKey` finds it), or undefined. `value` is `JSON.parse` of `sent`: every member the
 * bytes write is one of its members unless an object names one twice, so counting both finds a duplicate
 * without comparing names, which only a page that has one pays for. Elements are [] where the member is
 * missing or not an array. Throws a SyntaxError as `rawElements` does. Pure.
 */
export function arrayMemberAsSent(
  sent: Uint8Array,
  value: unknown,
  name: string,
): { elements: Uint8Array[]; twice: string | undefined } {
  const tally: Tally = { members: 0, lineBreaks: 0 };
  let elements: Uint8Array[] = [];
  let i = skipSpace(sent, skipSpace(sent, 0) + 1);
  while (sent[i] === QUOTE) {
    const keyEnd = stringEnd(sent, i);
    const valueStart = skipSpace(sent, skipSpace(sent, keyEnd) + 1);
    tally.members++;
    const key = decodeName(sent, i, keyEnd);
    if (key === name && sent[valueStart] === OPEN_BRACKET) {
      const array = rawElements(sent, valueStart, tally);
      elements = array.elements;
      i = skipSpace(sent, array.end);
    } else i = skipSpace(sent, valueEnd(sent, valueStart, tally));
    if (sent[i] === COMMA) i = skipSpace(sent, i + 1);
  }
  const twice = tally.members === membersOf(value) ? undefined : duplicateKey(sent);
  return { elements: tally.lineBreaks ? elements.map(oneLine) : elements, twice };
}

/** How many members the objects of a parsed JSON value have in all, at any depth. Pure. */
function membersOf(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let members = 0;
  if (Array.isArray(value)) {
    for (const element of value) members += membersOf(element);
    return members;
  }
  for (const member of Object.values(value)) members += 1 + membersOf(member);
  return members;
}

/**
 * The first member name that appears twice in one object of the JSON value `sent`, at any depth, or
 * undefined. JSON.parse keeps the last of such members and a scan of the bytes may find the first, so a page
 * that has any is refused: what is checked and what is stored could differ. Names are compared as JSON.parse
 * reads them (`"\u0069d"` is `"id"`). Expects JSON that JSON.parse accepts. Pure.
 *
 * It runs over every byte of every page, so names are compared as bytes where that is exact — no name of the
 * object escaped or outside ASCII, and few enough of them that comparing each pair is cheap — and only otherwise decoded.
 */
export function duplicateKey(sent: Uint8Array): string | undefined {
  // Per open object, where its names start in `ranges` (and, once decoded, their values); null for an array.
  const open: (MemberNames | null)[] = [];
  /** The [start, end) of each name (quotes included) of every open object not yet decoded, innermost last. */
  const ranges: number[] = [];
  let expectName = false;
  for (let i = 0; i < sent.length; i++) {
    const c = sent[i];
    if (c === QUOTE) {
      const end = stringEnd(sent, i);
      const names = open.at(-1);
      if (expectName && names && !addName(names, ranges, sent, i, end)) return decodeName(sent, i, end);
      expectName = false;
      i = end - 1;
    } else if (c === OPEN_BRACE) {
      open.push({ from: ranges.length });
      expectName = true;
    } else if (c === OPEN_BRACKET) {
      open.push(null);
      expectName = false;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      const closed = open.pop();
      if (closed) ranges.length = closed.from;
      expectName = false;
    } else if (c === COMMA) expectName = open.at(-1) instanceof Object;
  }
  return undefined;
}

/** One open object's names: from `from` on in the ranges, or (`decoded`) their values as JSON.parse reads them. */
interface MemberNames {
  readonly from: number;
  decoded?: Set<string>;
}

/** Names compared pair by pair as bytes, up to this many in one object; past it, or once one is escaped, decoded. */
const BYTE_COMPARED_NAMES = 32;

/** Adds the name at `sent[start, end)` to the object's; false when the object already has it. */
function addName(
  names: MemberNames,
  ranges: number[],
  sent: Uint8Array,
  start: number,
  end: number,
): boolean {
  const count = (ranges.length - names.from) / 2;
  if (!names.decoded && (count >= BYTE_COMPARED_NAMES || !plainAscii(sent, start, end))) {
    names.decoded = new Set();
    for (let k = names.from; k < ranges.length; k += 2) {
      names.decoded.add(decodeName(sent, ranges[k], ranges[k + 1]));
    }
  }
  if (names.decoded) {
    const name = decodeName(sent, start, end);
    if (names.decoded.has(name)) return false;
    names.decoded.add(name);
    return true;
  }
  for (let k = names.from; k < ranges.length; k += 2) {
    if (sameRange(sent, ranges[k], ranges[k + 1], start, end)) return false;
  }
  ranges.push(start, end);
  return true;
}

/**
 * Whether `sent[start, end)` is ASCII without a backslash: then its bytes are what JSON.parse reads. An escape
 * (`\u0069`), or bytes that are not valid UTF-8 (read as U+FFFD, so different bytes can be the same name), are not.
 */
function plainAscii(sent: Uint8Array, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (sent[k] >= 0x80 || sent[k] === BACKSLASH) return false;
  return true;
}

/** Whether `sent[a, aEnd)` and `sent[b, bEnd)` hold the same bytes. */
function sameRange(sent: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let k = 0; k < aEnd - a; k++) if (sent[a + k] !== sent[b + k]) return false;
  return true;
}

/** The JSON string at `sent[start, end)` (quotes included) as JSON.parse reads it. */
function decodeName(sent: Uint8Array, start: number, end: number): string {
  const raw = sent.subarray(start, end);
  return raw.includes(BACKSLASH) ? JSON.parse(UTF8.decode(raw)) as string : UTF8.decode(raw.subarray(1, -1));
}

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
