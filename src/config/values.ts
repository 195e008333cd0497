/**
 * Parsing one setting's value by its kind (URL, duration, count, cron, …), before any I/O.
 *
 * @module
 */

import { type RawSettings, type Setting, type SettingKind, SETTINGS, type SourceName } from "./settings.ts";
import { cronProblem } from "../cron.ts";
import { DAY_MS, parseDuration, parseTime } from "../time.ts";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** A URL as it may be shown: any user or password in it replaced. */
export function withoutCredentials(text: string): string {
  return text.replace(/^([a-z]+:\/\/)[^/@]*@/i, "$1(credentials hidden)@");
}

/** TLS always; plain HTTP only to a loopback host (the emulators). */
function checkServiceUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be a URL like https://idcs-0123456789abcdef.identity.oraclecloud.com";
  }
  if (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  if (url.protocol !== "https:") {
    return "must be an https URL (plain http is allowed only for loopback hosts)";
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    return "must be the domain's base URL, without path, query or credentials";
  }
  return undefined;
}

/** An IPv4 address, an IPv6 address (without brackets), or a DNS host name: what LISTEN may name. Pure. */
function isHost(text: string): boolean {
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (ipv4) return ipv4.slice(1).every((part) => Number(part) <= 255);
  if (text.includes(":")) {
    try {
      return new URL(`http://[${text}]/`).hostname.length > 2;
    } catch {
      return false;
    }
  }
  const label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
  return text.length <= 253 && new RegExp(`^${label}(\\.${label})*$`).test(text) && !/^[\d.]+$/.test(text);
}
/** The binary units a byte size may be written in (MAX_RESPONSE_BYTES). */
const BYTE_UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** A setting's value once parsed: each kind's parser gives one of these. */
type SettingValue = string | number | boolean;

/** One parser per setting kind: the value, or the rule it breaks (said as "X must …: current value is …"). */
const PARSERS: Record<
  SettingKind,
  (text: string, setting: Setting, now: number) => SettingValue | { rule: string }
> = {
  string: (text) => text,
  secret: (text) => text,
  url: (text) => {
    const problem = checkServiceUrl(text);
    return problem ? { rule: problem } : text.replace(/\/+$/, "");
  },
  enum: (text, setting) =>
    setting.values!.includes(text) ? text : { rule: `must be one of ${setting.values!.join(", ")}` },
  duration: (text) => parseDuration(text) ?? { rule: "must be a duration like 90s, 15m, 24h or 14d" },
  since: (text, _setting, now) => {
    const back = parseDuration(text);
    if (back !== undefined) return Math.floor((now - back) / DAY_MS) * DAY_MS;
    const time = parseTime(text);
    if (time === undefined) return { rule: "must be an ISO-8601 UTC time or a duration like 14d" };
    return time > now ? { rule: "must not be in the future" } : time;
  },
  count: (text, setting) => {
    const n = Number(text);
    const max = setting.max ?? Number.MAX_SAFE_INTEGER;
    return Number.isInteger(n) && n >= 1 && n <= max
      ? n
      : { rule: `must be a whole number from 1 to ${max}` };
  },
  bytes: (text, setting) => {
    const match = /^(\d+)\s*(B|KiB|MiB|GiB)?$/.exec(text.trim());
    const n = match ? Number(match[1]) * BYTE_UNITS[match[2] ?? "B"] : NaN;
    const max = setting.max ?? Number.MAX_SAFE_INTEGER;
    return Number.isSafeInteger(n) && n >= 1 && n <= max
      ? n
      : { rule: "must be a size in bytes like 1048576, 512KiB, 64MiB or 1GiB (at least 1 byte)" };
  },
  boolean: (text) => text === "true" ? true : text === "false" ? false : { rule: "must be true or false" },
  host: (text) =>
    isHost(text) ? text : { rule: "must be an IP address (0.0.0.0, 127.0.0.1, ::) or a host name" },
  cron: (text) => {
    const problem = cronProblem(text);
    return problem ? { rule: problem } : text;
  },
};

/**
 * The settings of one origin (global, or one source entry), parsed by kind and read back typed. A bad value
 * is added to `problems` and reads as unset. A per-source default (SETTLE) applies once the source is known.
 */
export class SettingValues {
  readonly #values = new Map<string, SettingValue>();
  constructor(raw: RawSettings, perSource: boolean, now: number, problems: string[]) {
    for (const setting of SETTINGS) {
      if (Boolean(setting.perSource) !== perSource) continue;
      const text = raw[setting.env] ?? setting.default;
      if (text === undefined || text === "") continue;
      const value = PARSERS[setting.kind](text, setting, now);
      if (typeof value !== "object") this.#values.set(setting.env, value);
      else {
        const shown = setting.kind === "secret" ? "(hidden)" : JSON.stringify(withoutCredentials(text));
        problems.push(`${setting.env} ${value.rule}: current value is ${shown}`);
      }
    }
  }
  has(env: string): boolean {
    return this.#values.has(env);
  }
  text(env: string): string | undefined {
    const value = this.#values.get(env);
    return typeof value === "string" ? value : undefined;
  }
  number(env: string, source?: SourceName): number | undefined {
    const value = this.#values.get(env) ?? this.#sourceDefault(env, source);
    return typeof value === "number" ? value : undefined;
  }
  flag(env: string): boolean | undefined {
    const value = this.#values.get(env);
    return typeof value === "boolean" ? value : undefined;
  }
  #sourceDefault(env: string, source: SourceName | undefined) {
    const setting = SETTINGS.find((s) => s.env === env)!;
    const text = source && setting.sourceDefaults?.[source];
    return text === undefined ? undefined : PARSERS[setting.kind](text, setting, 0);
  }
}
