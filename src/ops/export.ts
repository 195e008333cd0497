/**
 * `export`: streams archived events in an event-time range as NDJSON; `--out` appears whole or not at all.
 *
 * @module
 */

import { readChain } from "../archive/chains.ts";
import { eventTime, gunzip, kindOf, type Manifest } from "../archive/format.ts";
import type { Sink } from "../archive/sink.ts";
import { ArchiveError } from "../errors.ts";
import { holdsEventsIn, overlaps, verifyChain, verifyData } from "../proof/chain.ts";
import { foldersOf, grantAdvice, holds } from "../permissions.ts";

type Span = [number, number];

const spanText = ([start, end]: Span) => `[${new Date(start).toISOString()}, ${new Date(end).toISOString()})`;

/**
 * The stretches of event time the windows cover, merged: a window on processing time also covers its events
 * that occurred before it began.
 */
function coverage(manifests: Manifest[]): Span[] {
  const spans = manifests.map((m): Span => [
    Math.min(Date.parse(m.start), m.firstEventTime ? Date.parse(m.firstEventTime) : Infinity),
    Date.parse(m.end),
  ]).sort((a, b) => a[0] - b[0]);
  const merged: Span[] = [];
  for (const span of spans) {
    const last = merged.at(-1);
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([...span]);
  }
  return merged;
}

/** The parts of [from, to) no span covers. */
function uncovered(spans: Span[], from: number, to: number): Span[] {
  const gaps: Span[] = [];
  let at = from;
  for (const [start, end] of spans) {
    if (start > at && at < to) gaps.push([at, Math.min(start, to)]);
    at = Math.max(at, end);
  }
  if (at < to) gaps.push([at, to]);
  return gaps;
}

/**
 * Writes the archived events with times in [from, to) as NDJSON, each object checked against its manifest
 * first. Every chain is verified before anything is written: a range the archive does not cover at all is a
 * USAGE error naming what it covers; a range it covers in part is exported, the rest returned as `missing`.
 */
export async function exportEvents(
  sink: Sink,
  chains: string[],
  from: number,
  to: number,
  out: WritableStreamDefaultWriter<Uint8Array>,
): Promise<{ events: number; missing: string[] }> {
  const verified = [];
  for (const chain of chains) {
    const stored = await readChain(sink, chain);
    const { problems, windows, amendments } = await verifyChain({ chain, ...stored });
    if (problems.length) {
      throw new ArchiveError("VERIFY", `${chain} does not verify: ${problems[0]} (run verify)`);
    }
    verified.push({ windows, amendments });
  }
  const spans = coverage(verified.flatMap((v) => v.windows));
  const missing = uncovered(spans, from, to);
  if (missing.length === 1 && missing[0][0] === from && missing[0][1] === to) {
    throw new ArchiveError(
      "USAGE",
      `none of ${spanText([from, to])} is archived: the archive covers ${
        spans.length ? spans.map(spanText).join(", ") : "no time yet"
      }; choose --from and --to within it`,
    );
  }
  let events = 0;
  const encoder = new TextEncoder();
  for (const { windows, amendments } of verified) {
    // Each window is followed by its amendments, in order.
    const objects = [...windows, ...amendments].sort((a, b) =>
      Date.parse(a.start) - Date.parse(b.start) || (a.amendment ?? 0) - (b.amendment ?? 0)
    );
    // Every window that meets the range on either clock is checked; only events of the range are handed out.
    for (const manifest of objects.filter((m) => holdsEventsIn(m, from, to) || overlaps(m, from, to))) {
      const data = await sink.read(manifest.object);
      const dataProblems = data ? await verifyData(manifest, data) : [`${manifest.object} is missing`];
      if (dataProblems.length) {
        throw new ArchiveError("VERIFY", `${dataProblems[0]}: not exported (run verify)`);
      }
      const lines = new TextDecoder().decode(await gunzip(data!)).split("\n").filter(Boolean);
      const selected = lines.filter((line) => {
        const time = eventTime(kindOf(manifest), JSON.parse(line))!;
        return time >= from && time < to;
      });
      if (selected.length) await out.write(encoder.encode(selected.join("\n") + "\n"));
      events += selected.length;
    }
  }
  return { events, missing: missing.map(spanText) };
}

/**
 * `--out`: checked before the archive is read — the permission set must let the program write its folder, the
 * folder must exist, the file must not (export never overwrites). Written to a temporary file beside it and
 * linked to its name only when the export is complete, so the file appears whole or not at all.
 */
export async function createOutput(path: string) {
  const refuse = (why: string) => new ArchiveError("USAGE", `--out ${path} cannot be created: ${why}`);
  const [folder] = foldersOf([path]);
  // The temporary file sits beside it and is linked (which needs read too): the grants must cover the folder.
  // A flag such as --allow-write=DIR beside -P replaces the set's list: the advice names the whole list.
  if (!await holds({ read: [folder], write: [folder] })) {
    throw refuse(
      `the permission set does not let the program read and write its folder ${folder}: leave --out out and redirect stdout (export … > ${path}); or, ${
        grantAdvice({ read: [folder], write: [folder] })
      }`,
    );
  }
  if (await Deno.lstat(path).then(() => true, () => false)) {
    throw refuse("it exists (export never overwrites): choose a new file");
  }
  const partial = `${path}.partial-${crypto.randomUUID()}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(partial, { write: true, createNew: true });
  } catch (error) {
    throw refuse(
      error instanceof Deno.errors.NotFound
        ? `its folder ${folder} does not exist: create it, or choose another`
        : (error as Error).message,
    );
  }
  const discard = () => Deno.remove(partial).catch(() => {});
  return {
    file,
    discard,
    publish: async () => {
      try {
        await Deno.link(partial, path);
      } catch (error) {
        // Without read permission for the folder its files could not be seen beforehand.
        throw refuse(
          error instanceof Deno.errors.AlreadyExists
            ? "it exists (export never overwrites): choose a new file"
            : (error as Error).message,
        );
      } finally {
        await discard();
      }
    },
  };
}
