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
