/**
 * How the emulators serialise an event's JSON text. Oracle documents the JSON (SCIM for identity domains,
 * CloudEvents for OCI Audit), not its serializer: whether `/` is sent as `\/`, or non-ASCII as `\u00e9`, is
 * undocumented, so generated events use each (UNCONFIRMED, modelled both ways). A re-serialisation of the
 * parsed event (`JSON.stringify`) reproduces only the plain style — which is why the archiver keeps each
 * event's text as sent.
 *
 * @module
 */

export interface WireStyle {
  escapeNonAscii: boolean;
  escapeSlash: boolean;
}

export const PLAIN_WIRE: WireStyle = { escapeNonAscii: false, escapeSlash: false };

/** The JSON text of `value` in a wire style: JSON escapes only appear inside strings, so text replaces are safe. */
export function renderWire(value: unknown, style: WireStyle): string {
  let text = JSON.stringify(value);
  if (style.escapeNonAscii) {
    text = text.replace(
      /[\u0080-\uffff]/g,
      (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (style.escapeSlash) text = text.replaceAll("/", "\\/");
  return text;
}

/**
 * A page's JSON text pretty-printed: a line break (`"\n"` or `"\r\n"`) and two spaces of indentation per level
 * after `{`, `[` and `,`, and before `}` and `]`, and a space after `:`. Strings are copied as they are, so
 * removing the whitespace between tokens gives back the text. Oracle documents its JSON, not its serializer's
 * whitespace, and JSON allows whitespace between any two tokens (RFC 8259 §2): whether a page is ever sent
 * this way is UNCONFIRMED, so the emulators model both (their `prettyPages` options).
 */
export function prettyPrint(text: string, lineBreak: "\n" | "\r\n"): string {
  let out = "";
  let depth = 0;
  const newline = () => lineBreak + "  ".repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      out += text.slice(i, end + 1);
      i = end;
    } else if (c === "{" || c === "[") {
      depth++;
      out += c + newline();
    } else if (c === "}" || c === "]") {
      depth--;
      out += newline() + c;
    } else if (c === ",") out += c + newline();
    else if (c === ":") out += ": ";
    else out += c;
  }
  return out;
}
