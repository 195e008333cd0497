/**
 * `arrayMemberAsSent`, the one walk over an identity-domain page, against the scans it replaces (`rawElements`,
 * `oneLine`, `duplicateKey`) on random pages: spaces and line breaks between tokens, escaped and repeated
 * names, nested objects and arrays. Pure.
 *
 * @module
 */

import assert from "node:assert/strict";
import { arrayMemberAsSent, duplicateKey, oneLine, rawElements } from "../../src/sources/json_scan.ts";
import { mulberry32 } from "../emulators/random.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("arrayMemberAsSent finds the elements rawElements finds, on one line, and the duplicate duplicateKey finds", () => {
  const random = mulberry32(21);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const space = () => random() < 0.7 ? "" : pick([" ", "\n", "\r\n", "\t", "\n  "]);
  const names = ["a", "b", "id", "\\u0061", "é", "x y", 'q\\"'];
  const value = (depth: number): string => {
    const r = random();
    if (depth > 3 || r < 0.3) return pick(["1", "-2.5e3", "null", "true", '"s"', '"]}\\"{["', '"\\\\"']);
    if (r < 0.55) {
      const elements = Array.from(
        { length: Math.floor(random() * 3) },
        () => space() + value(depth + 1) + space(),
      );
      return `[${elements.join(",")}]`;
    }
    const members = Array.from(
      { length: Math.floor(random() * 4) },
      () => `${space()}"${pick(names)}"${space()}:${space()}${value(depth + 1)}${space()}`,
    );
    return `{${members.join(",")}}`;
  };
  let duplicates = 0;
  for (let n = 0; n < 2000; n++) {
    const elements = Array.from({ length: Math.floor(random() * 4) }, () => space() + value(1) + space());
    const head = random() < 0.2 ? `"R"${space()}:${space()}[${value(1)}],` : "";
    const page = `${space()}{${space()}"s":${value(1)},${head}"R":${space()}[${
      elements.join(",")
    }]${space()}}`;
    const sent = utf8(page);
    const scanned = arrayMemberAsSent(sent, JSON.parse(page), "R");
    assert.equal(scanned.twice, duplicateKey(sent), page);
    if (scanned.twice !== undefined) {
      duplicates++;
      continue;
    }
    const start = utf8(page.slice(0, page.indexOf("[", page.indexOf(`"R":`)))).length;
    const raw = rawElements(sent, start).elements.map((element) => text(oneLine(element)));
    assert.deepEqual(scanned.elements.map(text), raw, page);
    assert.deepEqual(scanned.elements.map((e) => JSON.parse(text(e))), JSON.parse(page).R, page);
    for (const element of scanned.elements) assert.ok(!element.includes(10) && !element.includes(13), page);
  }
  assert.ok(
    duplicates > 100 && duplicates < 1900,
    `both kinds of pages were tried (${duplicates} with a duplicate)`,
  );
});

Deno.test("arrayMemberAsSent: no such member, or not an array, is no element", () => {
  for (const page of ['{"a":[1]}', '{"R":null}', '{"R":{"x":[1]}}', "{}"]) {
    assert.deepEqual(arrayMemberAsSent(utf8(page), JSON.parse(page), "R"), {
      elements: [],
      twice: undefined,
    });
  }
});
