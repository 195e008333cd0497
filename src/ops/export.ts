/**
 * `export`: streams archived events in an event-time range as NDJSON; `--out` appears whole or not at all.
 *
 * @module
 */

import { listChains, readChain } from "../archive/chains.ts";
import { eventTime, gunzip, kindOf } from "../archive/format.ts";
import type { Sink } from "../archive/sink.ts";
import { ArchiveError } from "../errors.ts";
import { holdsEventsIn, overlaps, verifyChain, verifyData } from "../proof/chain.ts";

/** Writes the archived events with times in [from, to) as NDJSON, each object checked against its manifest first. */
export async function exportEvents(
  sink: Sink,
  prefix: string,
  from: number,
  to: number,
  out: WritableStreamDefaultWriter<Uint8Array>,
) {
  let count = 0;
  const encoder = new TextEncoder();
  for (const chain of await listChains(sink, prefix)) {
    const stored = await readChain(sink, chain);
    const { problems, windows, amendments } = await verifyChain({ chain, ...stored });
    if (problems.length) {
      throw new ArchiveError("VERIFY", `${chain} does not verify: ${problems[0]} (run verify)`);
    }
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
      count += selected.length;
    }
  }
  return count;
}

/**
 * `--out`: written to a temporary file beside it and linked to its name only when the export is complete, so
 * the file appears whole or not at all; an existing file is never overwritten.
 */
export async function createOutput(path: string) {
  const refuse = (why: string) => new ArchiveError("USAGE", `--out ${path} cannot be created: ${why}`);
  if (await Deno.lstat(path).then(() => true, () => false)) {
    throw refuse("it exists (export never overwrites): choose a new file");
  }
  const partial = `${path}.partial-${crypto.randomUUID()}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(partial, { write: true, createNew: true });
  } catch (error) {
    throw refuse((error as Error).message);
  }
  const discard = () => Deno.remove(partial).catch(() => {});
  return {
    file,
    discard,
    publish: async () => {
      try {
        await Deno.link(partial, path);
      } catch (error) {
        throw refuse(
          error instanceof Deno.errors.AlreadyExists
            ? "it appeared while exporting"
            : (error as Error).message,
        );
      } finally {
        await discard();
      }
    },
  };
}
